"""A renewed ticket never outlives a logout or a revocation, and no ticket
outlives the revocation that covers it: real servers, a real redis-server."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Middleware
from aiohttp_session import SimpleCookieStorage, session_middleware
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    MemoryRevocationStore,
    Public,
    RedisRevocationStore,
    RevocationStore,
    SessionTicketPolicy,
    get_auth,
    remember,
)
from aiohttp_guard.policies._ticketing import TicketPolicyBase

from .apps import HeaderPolicy, make_app
from .conftest import SECRET, RedisServer
from .cookies import set_cookies

Kind = Literal["cookie", "session"]
Client = TestClient[web.Request, web.Application]
ServerClient = TestClient[web.Request, None]

# Every ticket older than a few milliseconds is due for renewal.
MAX_AGE = 60.0
REISSUE = 59.98


class Site:
    """An app whose tickets are renewed on almost every request, with the
    routes the scenarios need."""

    def __init__(self, kind: Kind, store: RevocationStore) -> None:
        self.kind = kind
        self.entered = asyncio.Event()
        self.login_ticket: str | None = None
        self.policy: TicketPolicyBase
        middlewares: list[Middleware] = []
        if kind == "cookie":
            self.policy = CookieTicketPolicy(SECRET, MAX_AGE, reissue_time=REISSUE)
        else:
            self.policy = SessionTicketPolicy(SECRET, MAX_AGE, reissue_time=REISSUE)
            middlewares.append(session_middleware(SimpleCookieStorage()))
        self.app = web.Application(middlewares=middlewares)
        self.service = AuthService(self.policy, revocations=store)
        self.service.setup(self.app)
        self.app.add_routes(
            [
                web.get("/login", self.login),
                web.get("/private", self.private),
                web.post("/everywhere", self.everywhere),
                web.post("/upload", self.upload),
                web.get("/tolerant", self.tolerant),
                web.get("/catching", self.catching),
            ]
        )

    async def login(self, request: web.Request) -> web.Response:
        await remember(request, request.query["user"])
        return web.Response(text="in")

    @Authenticated()
    async def private(self, request: web.Request) -> web.Response:
        return web.Response(text=str(await get_auth(request)))

    async def everywhere(self, request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await self.service.logout_everywhere(user_id, request)
        return web.Response(text="done")

    async def upload(self, request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        self.entered.set()
        body = await request.read()
        return web.Response(text=f"{user_id} sent {len(body)} bytes")

    async def tolerant(self, request: web.Request) -> web.Response:
        user_id = await (Authenticated() | Public())(request)
        return web.Response(text=f"hello {user_id}")

    async def catching(self, request: web.Request) -> web.Response:
        try:
            user_id = await Authenticated()(request)
        except web.HTTPException as exc:
            return web.Response(text=f"caught {exc.status}")
        return web.Response(text=f"hello {user_id}")

    def ticket_sent(self, response: ClientResponse) -> str | None:
        """The ticket text a response hands the client, if it sets one."""
        cookies = set_cookies(response)
        if self.kind == "cookie":
            morsel = cookies.get("AUTH_TKT")
            return morsel.value if morsel is not None and morsel.value else None
        morsel = cookies.get("AIOHTTP_SESSION")
        if morsel is None or not morsel.value:
            return None
        session = json.loads(morsel.value).get("session", {})
        ticket: str | None = session.get("AUTH_TKT")
        return ticket

    def credentials(self, client: Client | ServerClient) -> dict[str, str]:
        """The cookies a client holds, to replay them from another client."""
        name = "AUTH_TKT" if self.kind == "cookie" else "AIOHTTP_SESSION"
        for cookie in client.session.cookie_jar:
            if cookie.key == name:
                return {name: cookie.value}
        raise AssertionError(f"the client holds no {name} cookie")


@pytest.fixture(params=["cookie", "session"])
def kind(request: pytest.FixtureRequest) -> Kind:
    value: Kind = request.param
    return value


async def logged_in(aiohttp_client: AiohttpClient, site: Site) -> Client:
    client: Client = await aiohttp_client(site.app)
    site.login_ticket = site.ticket_sent(
        await client.get("/login", params={"user": "alice"})
    )
    await asyncio.sleep(0.05)  # the ticket is now due for renewal
    return client


async def test_renewal_keeps_the_login_time(
    aiohttp_client: AiohttpClient, kind: Kind
) -> None:
    site = Site(kind, MemoryRevocationStore())
    client = await logged_in(aiohttp_client, site)
    assert site.login_ticket is not None
    login = site.policy.codec.decode(site.login_ticket)
    response = await client.get("/private")
    renewed = site.ticket_sent(response)
    assert renewed is not None
    ticket = site.policy.codec.decode(renewed)
    assert ticket.issued_ms > login.issued_ms
    assert ticket.login_ms == login.login_ms
    assert response.headers["Cache-Control"] == "no-store"


async def test_logout_everywhere_in_a_successful_handler_sends_no_renewal(
    aiohttp_client: AiohttpClient, kind: Kind
) -> None:
    site = Site(kind, MemoryRevocationStore())
    client = await logged_in(aiohttp_client, site)
    stolen = site.credentials(client)
    response = await client.post("/everywhere")
    assert await response.text() == "done"
    assert site.ticket_sent(response) is None
    assert (await client.get("/private")).status == 401
    thief: ServerClient = await aiohttp_client(client.server)
    assert (await thief.get("/private", cookies=stolen)).status == 401


async def test_a_request_in_flight_during_logout_everywhere_is_not_renewed(
    aiohttp_client: AiohttpClient, kind: Kind
) -> None:
    """A thief's slow upload, identified before the victim logs out of all
    devices, finishes without a renewed ticket; nothing it holds works."""
    site = Site(kind, MemoryRevocationStore())
    victim = await logged_in(aiohttp_client, site)
    thief: ServerClient = await aiohttp_client(victim.server)
    thief.session.cookie_jar.update_cookies(site.credentials(victim))
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"x" * 1024
        await release.wait()
        yield b"y" * 1024

    upload = asyncio.create_task(thief.post("/upload", data=slow_body()))
    await asyncio.wait_for(site.entered.wait(), 5)
    assert await (await victim.post("/everywhere")).text() == "done"
    release.set()
    response = await upload
    assert await response.text() == "alice sent 2048 bytes"
    assert site.ticket_sent(response) is None
    assert (await thief.get("/private")).status == 401
    assert (await victim.get("/private")).status == 401


async def test_a_renewal_made_before_a_revocation_is_refused_after_it(
    aiohttp_client: AiohttpClient,
) -> None:
    """A ticket renewed (by another instance, say) from a login that the
    revocation covers is refused, however late it was issued."""
    site = Site("cookie", MemoryRevocationStore())
    client: Client = await aiohttp_client(site.app)
    codec = site.policy.codec
    login = codec.now_ms() - 10_000
    await site.service.logout_everywhere("alice")
    renewed = codec.encode(codec.issue("alice", MAX_AGE, login_ms=login))
    assert codec.decode(renewed).issued_ms > login
    response = await client.get("/private", cookies={"AUTH_TKT": renewed})
    assert response.status == 401


@pytest.mark.parametrize("route", ["/tolerant", "/catching"])
async def test_an_unanswered_store_cancels_the_renewal(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    kind: Kind,
    route: str,
) -> None:
    """With the revocation store not answering, a route that tolerates the
    503 answers, but renews nothing: a revoked ticket stays revoked once the
    store is back."""
    redis: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        redis_server.url, socket_connect_timeout=0.3
    )
    try:
        site = Site(kind, RedisRevocationStore(redis, timeout=0.3))
        thief = await logged_in(aiohttp_client, site)
        victim: ServerClient = await aiohttp_client(thief.server)
        await victim.get("/login", params={"user": "alice"})
        assert await (await victim.post("/everywhere")).text() == "done"

        process = redis_server.process
        assert process is not None
        process.send_signal(signal.SIGSTOP)  # alive, keeps its data, answers nothing
        try:
            response = await thief.get(route)
            assert response.status == 200
            assert site.ticket_sent(response) is None
        finally:
            process.send_signal(signal.SIGCONT)
        statuses: list[int] = []
        for _ in range(30):  # the client reconnects on its own
            statuses.append((await thief.get("/private")).status)
            if statuses[-1] != 503:
                break
            await asyncio.sleep(0.1)
        assert statuses[-1] == 401
    finally:
        await redis.aclose()


def long_lived(policy: TicketPolicyBase, seconds: float) -> str:
    return policy.codec.encode(policy.codec.issue("alice", seconds))


async def test_tickets_living_longer_than_max_age_are_refused(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    """Revocations are kept for max_age: a 24 h ticket on a 15 min policy
    would outlive them, so it is never accepted, revoked or not."""
    store = RedisRevocationStore(redis_client, prefix=redis_prefix)
    policy = CookieTicketPolicy(SECRET, 900)
    app = web.Application()
    service = AuthService(policy, revocations=store)
    service.setup(app)
    app.router.add_get("/private", Site("cookie", store).private)
    client: Client = await aiohttp_client(app)

    day = long_lived(policy, 24 * 3600)
    normal = long_lived(policy, 900)
    assert (await client.get("/private", cookies={"AUTH_TKT": normal})).status == 200
    assert (await client.get("/private", cookies={"AUTH_TKT": day})).status == 401

    await service.logout_everywhere("alice")
    assert (await client.get("/private", cookies={"AUTH_TKT": normal})).status == 401
    # The entry lives as long as a ticket of the policy could (max_age,
    # the clock skew, a minute's margin); once it has expired, the day-long
    # ticket that would still be valid is refused all the same.
    key = f"{redis_prefix}alice"
    assert 900_000 < await redis_client.pttl(key) <= 965_000
    await redis_client.delete(key)
    assert (await client.get("/private", cookies={"AUTH_TKT": day})).status == 401


async def test_identities_without_an_issue_time_are_refused_once_revoked(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A policy of one's own that tells no issue time cannot show a ticket
    predates a revocation: every revocation of the user refuses it, and the
    service says so once."""

    class TrustedHeader(HeaderPolicy):
        async def forget(self, request: web.Request) -> None:
            return None

    app = make_app(TrustedHeader(), revocations=MemoryRevocationStore())
    service = AuthService.of(app)
    client: Client = await aiohttp_client(app)
    alice, bob = {"X-User": "alice"}, {"X-User": "bob"}
    assert await (await client.get("/whoami", headers=alice)).text() == "alice"
    await service.logout_everywhere("alice")
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        for _ in range(2):
            assert await (await client.get("/whoami", headers=alice)).text() == "None"
        assert await (await client.get("/whoami", headers=bob)).text() == "bob"
    warnings = [r for r in caplog.records if "no issue time" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("cache_control", "renewed"),
    [
        ("public, max-age=600", False),
        ("max-age=60", False),
        ("no-cache", False),
        ("private, max-age=60", True),
        ("no-store", True),
        (None, True),
    ],
)
async def test_a_renewal_is_never_sent_on_a_response_shared_caches_may_store(
    aiohttp_client: AiohttpClient, kind: Kind, cache_control: str | None, renewed: bool
) -> None:
    """A page the same for everyone, marked cacheable by its handler, is no
    place for one user's renewed ticket: the renewal waits for another."""
    site = Site(kind, MemoryRevocationStore())

    async def page(request: web.Request) -> web.Response:
        await Authenticated()(request)
        headers = {} if cache_control is None else {"Cache-Control": cache_control}
        return web.Response(text="the same for everyone", headers=headers)

    site.app.router.add_get("/page", page)
    client = await logged_in(aiohttp_client, site)
    response = await client.get("/page")
    assert (site.ticket_sent(response) is not None) is renewed
    if cache_control is not None:
        assert response.headers["Cache-Control"] == cache_control
