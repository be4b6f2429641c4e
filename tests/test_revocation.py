"""Log out everywhere: revocation stores, in memory and in a real Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    Authenticated,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
    get_auth,
    remember,
)

from .apps import make_app
from .conftest import SECRET, RedisServer
from .cookies import set_cookies

#: Not-before times later than any store's epoch.
LATER = 4_000_000_000_000


async def exercise_store(store: RevocationStore) -> int | None:
    """Returns the answer for users without an entry: None, or a Redis
    store's epoch (which no answer falls below)."""
    unknown = await store.not_before("alice")
    await store.revoke("alice", LATER + 123, ttl=60)
    await store.revoke("ünï ¢ødé", LATER + 5, ttl=None)
    assert await store.not_before("alice") == LATER + 123
    assert await store.not_before("ünï ¢ødé") == LATER + 5
    assert await store.not_before("bob") == unknown
    await store.revoke("short", LATER + 1, ttl=0.05)
    await asyncio.sleep(0.15)
    assert await store.not_before("short") == unknown
    assert await store.not_before("alice") == LATER + 123
    return unknown


async def test_memory_store() -> None:
    store = MemoryRevocationStore()
    assert await exercise_store(store) is None
    assert repr(store) == "MemoryRevocationStore(2 entries)"
    await store.revoke("brief", 1, ttl=0.01)
    await asyncio.sleep(0.05)
    assert await store.not_before("brief") is None  # expired: never answered
    # Expired entries are swept in bulk whenever the store has doubled, so a
    # write costs a constant time on average and the store stays bounded.
    for i in range(500):
        await store.revoke(f"short-{i}", 1, ttl=0.01)
    await asyncio.sleep(0.05)
    for i in range(500):
        await store.revoke(f"long-{i}", 1, ttl=60)
    assert len(store) < 600
    assert await store.not_before("long-0") == 1


async def test_redis_store(redis_client: Redis, redis_prefix: str) -> None:
    store = RedisRevocationStore(redis_client, prefix=redis_prefix)
    started = time.time() * 1000
    epoch = await exercise_store(store)  # its first use starts its epoch
    assert epoch is not None
    assert started - 1 <= epoch <= time.time() * 1000
    ttl = await redis_client.pttl(f"{redis_prefix}alice")
    assert 0 < ttl <= 60_000
    assert await redis_client.pttl(f"{redis_prefix}ünï ¢ødé".encode()) == -1
    assert redis_prefix in repr(store)


def revocation_app(store: RevocationStore) -> web.Application:
    app = make_app(CookieTicketPolicy(SECRET, 3600), revocations=store)

    async def everywhere(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await AuthService.of(request).logout_everywhere(user_id, request)
        return web.Response(text=str(await get_auth(request)))

    async def change_password(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await AuthService.of(request).logout_everywhere(user_id, request)
        await remember(request, user_id)  # this device stays logged in
        return web.Response(text=str(await get_auth(request)))

    app.add_routes(
        [web.post("/everywhere", everywhere), web.post("/password", change_password)]
    )
    return app


StoreFactory = Callable[[], RevocationStore]
Client = TestClient[web.Request, None]


@pytest.fixture(params=["memory", "redis"])
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    if request.param == "memory":
        store = MemoryRevocationStore()
        return lambda: store
    client: Redis = request.getfixturevalue("redis_client")
    prefix: str = request.getfixturevalue("redis_prefix")
    return lambda: RedisRevocationStore(client, prefix=prefix)


async def test_logout_everywhere_logs_out_every_device(
    aiohttp_client: AiohttpClient, store_factory: StoreFactory
) -> None:
    phone = await aiohttp_client(revocation_app(store_factory()))
    laptop: Client = await aiohttp_client(phone.server)  # same server, other device
    colleague: Client = await aiohttp_client(phone.server)
    for device, user in ((phone, "alice"), (laptop, "alice"), (colleague, "bob")):
        await device.get("/login", params={"user": user})
        assert await (await device.get("/whoami")).text() == user

    response = await phone.post("/everywhere")
    assert await response.text() == "None"  # the calling request too
    assert set_cookies(response)["AUTH_TKT"].value == ""
    assert (await phone.get("/private")).status == 401

    refused = await laptop.get("/whoami")
    assert await refused.text() == "None"
    assert set_cookies(refused)["AUTH_TKT"].value == ""  # its cookie is cleared
    assert await (await colleague.get("/whoami")).text() == "bob"

    await phone.get("/login", params={"user": "alice"})  # at once: works
    assert await (await phone.get("/whoami")).text() == "alice"


async def test_password_change_keeps_this_device_only(
    aiohttp_client: AiohttpClient, store_factory: StoreFactory
) -> None:
    phone = await aiohttp_client(revocation_app(store_factory()))
    laptop: Client = await aiohttp_client(phone.server)
    for device in (phone, laptop):
        await device.get("/login", params={"user": "alice"})
    assert await (await phone.post("/password")).text() == "alice"
    assert await (await phone.get("/whoami")).text() == "alice"
    assert await (await laptop.get("/whoami")).text() == "None"


async def test_a_revocation_never_shortens_nor_lowers_an_entry(
    store_factory: StoreFactory,
) -> None:
    """Services with different ticket lifetimes may share a store: whatever
    order their revocations of one user come in, the entry keeps the later
    time and the longer life."""
    store = store_factory()
    await store.revoke("alice", LATER + 10, ttl=60)
    await store.revoke("alice", LATER, ttl=0.05)  # an earlier time, a shorter life
    await store.revoke("bob", LATER, ttl=None)
    await store.revoke("bob", LATER + 1, ttl=0.05)  # a later time, a shorter life
    await store.revoke("carol", LATER + 1, ttl=0.05)
    await store.revoke("carol", LATER, ttl=60)  # an earlier time, a longer life
    await asyncio.sleep(0.15)
    assert await store.not_before("alice") == LATER + 10
    assert await store.not_before("bob") == LATER + 1
    assert await store.not_before("carol") == LATER + 1


async def test_redis_entries_keep_the_longer_life(
    redis_client: Redis, redis_prefix: str
) -> None:
    store = RedisRevocationStore(redis_client, prefix=redis_prefix)
    await store.revoke("alice", LATER, ttl=3600)
    await store.revoke("alice", LATER + 1, ttl=60)
    assert 3590_000 < await redis_client.pttl(f"{redis_prefix}alice") <= 3600_000
    await store.revoke("alice", LATER, ttl=None)
    await store.revoke("alice", LATER, ttl=60)
    assert await redis_client.pttl(f"{redis_prefix}alice") == -1  # for good
    assert await redis_client.get(f"{redis_prefix}alice") == b"%d" % (LATER + 1)


async def admin_everywhere(request: web.Request) -> web.Response:
    """An administrator's "log this user out everywhere"."""
    await AuthService.of(request).logout_everywhere(request.query["user"])
    return web.Response(text="revoked")


async def token_login(request: web.Request) -> web.Response:
    return web.Response(text=await remember(request, request.query["user"]))


@pytest.mark.parametrize("api_first", [True, False], ids=["api-first", "site-first"])
async def test_services_with_different_lifetimes_share_a_store(
    aiohttp_client: AiohttpClient,
    store_factory: StoreFactory,
    request: pytest.FixtureRequest,
    api_first: bool,
) -> None:
    """A 30-day bearer API and a site with 10-minute cookies share one store:
    the site revoking the user too never cuts the API's revocation short."""
    month = 30 * 24 * 3600
    api_app = make_app(BearerTicketPolicy(SECRET, month), revocations=store_factory())
    site_app = make_app(CookieTicketPolicy(SECRET, 600), revocations=store_factory())
    for app in (api_app, site_app):
        app.router.add_get("/everywhere", admin_everywhere)
    api_app.router.add_get("/token", token_login)
    api = await aiohttp_client(api_app)
    site = await aiohttp_client(site_app)
    token = await (await api.get("/token", params={"user": "alice"})).text()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await api.get("/private", headers=bearer)).status == 200

    for service in (api, site) if api_first else (site, api):
        response = await service.get("/everywhere", params={"user": "alice"})
        assert response.status == 200
    assert (await api.get("/private", headers=bearer)).status == 401
    if "redis_prefix" in request.fixturenames:
        redis: Redis = request.getfixturevalue("redis_client")
        prefix: str = request.getfixturevalue("redis_prefix")
        # The API's tickets live a month: so does the entry.
        assert await redis.pttl(f"{prefix}alice") > month * 1000


class CountingStore(MemoryRevocationStore):
    """The memory store, counting look-ups."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def not_before(self, user_id: str) -> int | None:
        self.lookups += 1
        return await super().not_before(user_id)


async def test_one_store_lookup_per_request(aiohttp_client: AiohttpClient) -> None:
    store = CountingStore()
    app = revocation_app(store)

    @Authenticated()
    @Authenticated()
    async def twice(request: web.Request) -> web.Response:
        await get_auth(request)
        return web.Response(text=str(await get_auth(request)))

    app.router.add_get("/twice", twice)
    client = await aiohttp_client(app)
    # An entry for alice (older than her login) makes her requests look.
    await store.revoke("alice", 1, None)
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/twice")).text() == "alice"
    assert store.lookups == 1


async def test_a_memory_store_subclass_with_its_own_lookup_is_always_asked(
    aiohttp_client: AiohttpClient,
) -> None:
    # Requests of users without an entry skip the memory store's look-up;
    # a subclass that looks elsewhere (here: a list kept by another part of
    # the app) must be asked all the same, or its revocations would be missed.
    revoked_elsewhere: dict[str, int] = {}

    class ElsewhereStore(MemoryRevocationStore):
        async def not_before(self, user_id: str) -> int | None:
            return revoked_elsewhere.get(user_id)

    client = await aiohttp_client(revocation_app(ElsewhereStore()))
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/whoami")).text() == "alice"
    revoked_elsewhere["alice"] = int(time.time() * 1000) + 1
    await asyncio.sleep(0.01)
    assert await (await client.get("/whoami")).text() == "None"


async def test_revocation_entries_live_as_long_as_a_ticket(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    client = await aiohttp_client(
        revocation_app(RedisRevocationStore(redis_client, prefix=redis_prefix))
    )
    await client.get("/login", params={"user": "alice"})
    await client.post("/everywhere")
    ttl = await redis_client.pttl(f"{redis_prefix}alice")
    # max_age, the codec's clock skew (5 s) and a margin of a minute
    assert 3600_000 < ttl <= 3665_000


async def test_a_redis_outage_fails_closed_and_recovers(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client_redis: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        redis_server.url, socket_connect_timeout=0.5
    )
    # Asking Redis on every look-up, so the outage shows at the next request
    # (test_revocation_mirror.py: with the copy, within its max_lag).
    store = RedisRevocationStore(client_redis, timeout=0.5, mirror=False)
    app = revocation_app(store)

    async def public(request: web.Request) -> web.Response:
        return web.Response(text="public")

    app.router.add_get("/public", public)
    client = await aiohttp_client(app)
    try:
        await client.get("/login", params={"user": "alice"})
        assert (await client.get("/private")).status == 200

        # It comes back with its data: an outage, not a loss (for those, see
        # test_revocation_loss.py).
        await client_redis.save()  # pyright: ignore[reportUnknownMemberType]
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            for _ in range(3):
                refused = await client.get("/private")
                assert refused.status == 503
                assert refused.headers["Retry-After"] == "5"
            as_json = await client.get(
                "/private", headers={"Accept": "application/json"}
            )
            assert (await as_json.json(content_type=None))["status"] == 503
            assert await (await client.get("/public")).text() == "public"
            assert await (await client.get("/login", params={"user": "bob"})).text()
            errors = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(errors) == 1
            assert "unreachable" in errors[0].getMessage()

            redis_server.start()
            recovered = await client.get("/private")
            for _ in range(20):  # the client reconnects on its own
                if recovered.status == 200:
                    break
                await asyncio.sleep(0.1)
                recovered = await client.get("/private")
            assert await recovered.text() == "private for bob"
        assert "answers again" in caplog.text
    finally:
        await client_redis.aclose()


async def test_revocation_splits_tickets_of_the_same_millisecond() -> None:
    """Tickets tell their issue time in milliseconds; those issued before
    `logout_everywhere` (even in its millisecond) are revoked, those issued
    after it returns are not, however fast the two follow each other."""
    store = MemoryRevocationStore()
    policy = CookieTicketPolicy(SECRET, 60)
    service = AuthService(policy, revocations=store)
    for _ in range(50):
        before = policy.codec.issue("alice", 60)
        await service.logout_everywhere("alice")
        after = policy.codec.issue("alice", 60)
        not_before = await store.not_before("alice")
        assert not_before is not None
        assert before.issued_ms < not_before <= after.issued_ms
