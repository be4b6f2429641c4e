"""A Redis that loses its data must not forget revocations silently.

`RedisRevocationStore` keeps an epoch (the time from which its memory is
complete), a count of revocations and their fingerprints beside the users'
entries: a restart without persistence, a flush, an evicted key or a restore
from an older copy (also one that later revocations counted over) moves the
epoch to now, so every ticket issued before is refused (401, never 200, never
500) and one line says why. An epoch created at 0 by hand keeps tickets
converted from aiohttp_auth. Restarts and flushes run on a redis-server of the
test's own, never on the shared one.

These stores ask Redis on every look-up (`mirror=False`), so a loss is seen by
the very next request; test_revocation_mirror.py shows the same for the copy
in memory, within its `max_lag`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
)

from .apps import make_app
from .conftest import REDIS_URL, SECRET, RedisServer, connect, missing_service
from .cookies import set_cookies
from .test_legacy_tickets import old_ticket

#: A client of an app (`aiohttp_client(app)`) or of a running server.
Client = TestClient[web.Request, web.Application] | TestClient[web.Request, None]

#: Where a store keeps its epoch and its count of revocations: beside the
#: users' keys, under names no user id encodes to (0xFF is never UTF-8).
EPOCH = b"\xffepoch"
REVISIONS = b"\xffrevisions"

#: A not-before time later than any epoch.
LATER = 4_000_000_000_000


def guarded_app(store: RevocationStore) -> web.Application:
    app = make_app(CookieTicketPolicy(SECRET, 3600), revocations=store)

    async def everywhere(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await AuthService.of(request).logout_everywhere(user_id, request)
        return web.Response(text="logged out everywhere")

    async def public(request: web.Request) -> web.Response:
        return web.Response(text="public")

    app.add_routes([web.post("/everywhere", everywhere), web.get("/public", public)])
    return app


async def log_in(client: Client, user: str) -> str:
    """Logs `user` in on `client`; returns the ticket, to replay later."""
    response = await client.get("/login", params={"user": user})
    assert response.status == 200
    return set_cookies(response)["AUTH_TKT"].value


async def status(client: Client, ticket: str) -> int:
    """What /private answers a replayed ticket, whatever `client` holds."""
    client.session.cookie_jar.clear()
    response = await client.get("/private", headers={"Cookie": f"AUTH_TKT={ticket}"})
    return response.status


def store_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The warnings and errors about the revocation store (those about the
    app's unguarded routes aside)."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and "revocation store" in r.getMessage()
    ]


async def answered(client: Client, path: str) -> int:
    """The status of `path` once Redis answers again: 503 while the client
    reconnects, which never lasts."""
    for _ in range(50):
        response = await client.get(path)
        if response.status != 503:
            return response.status
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} kept answering 503")


# -- a loss while the app runs ------------------------------------------------

Loss = Callable[[RedisServer, Redis], Awaitable[None]]


async def restart(server: RedisServer, client: Redis) -> None:
    server.stop()  # no persistence: it comes back empty
    server.start()


async def flushdb(server: RedisServer, client: Redis) -> None:
    await client.flushdb()  # pyright: ignore[reportUnknownMemberType]


async def flushall(server: RedisServer, client: Redis) -> None:
    await client.flushall()  # pyright: ignore[reportUnknownMemberType]


async def evict_epoch(server: RedisServer, client: Redis) -> None:
    await client.delete(b"aiohttp_guard:not_before:" + EPOCH)


@pytest.mark.parametrize("lose", [restart, flushdb, flushall, evict_epoch])
async def test_a_loss_refuses_every_earlier_ticket(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
    lose: Loss,
) -> None:
    app_redis = connect(redis_server.url)
    try:
        phone = await aiohttp_client(
            guarded_app(RedisRevocationStore(app_redis, timeout=0.5, mirror=False))
        )
        colleague: Client = await aiohttp_client(phone.server)
        alice = await log_in(phone, "alice")
        bob = await log_in(colleague, "bob")
        assert (await phone.get("/private")).status == 200

        caplog.clear()
        with caplog.at_level(logging.INFO, logger="aiohttp_guard"):
            await lose(redis_server, own_redis)
            refused = await phone.get("/private")
            assert refused.status == 401
            assert set_cookies(refused)["AUTH_TKT"].value == ""  # cleared
            answers = await asyncio.gather(
                *(colleague.get("/private") for _ in range(10))
            )
            assert [a.status for a in answers] == [401] * 10
            assert await status(colleague, bob) == 401
            assert await status(phone, alice) == 401  # for good, not once

        (line,) = store_lines(caplog)
        assert line.levelno == logging.ERROR
        assert "lost data" in line.getMessage()
        assert "refusing every ticket issued before" in line.getMessage()

        await log_in(phone, "alice")  # a new login works at once
        assert await (await phone.get("/private")).text() == "private for alice"
        assert await own_redis.pttl(b"aiohttp_guard:not_before:" + EPOCH) == -1
    finally:
        await app_redis.aclose()


async def test_a_restart_seen_through_stale_connections_fails_closed(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that does not retry meets the restart on its stale
    connections first: 503s (an outage, logged as one), then 401s."""
    app_redis = connect(redis_server.url, retry=False)
    try:
        client = await aiohttp_client(
            guarded_app(RedisRevocationStore(app_redis, timeout=0.5, mirror=False))
        )
        alice = await log_in(client, "alice")
        assert await status(client, alice) == 200
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            redis_server.stop()
            redis_server.start()
            answers = [await status(client, alice) for _ in range(20)]
        assert set(answers) <= {401, 503}
        assert answers[-1] == 401
        lost = [r for r in store_lines(caplog) if "lost data" in r.getMessage()]
        assert len(lost) == 1
    finally:
        await app_redis.aclose()


async def test_a_revocation_that_notices_the_loss_is_kept(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`logout_everywhere` as the first call after a loss (an administrator's,
    with no request) records its revocation and starts a new epoch."""
    app_redis = connect(redis_server.url)
    try:
        client = await aiohttp_client(
            guarded_app(RedisRevocationStore(app_redis, mirror=False))
        )
        bob = await log_in(client, "bob")
        await own_redis.flushdb()  # pyright: ignore[reportUnknownMemberType]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            await AuthService.of(client.app).logout_everywhere("alice")
        (line,) = store_lines(caplog)
        assert "lost data" in line.getMessage()
        assert await own_redis.get(b"aiohttp_guard:not_before:alice") is not None
        assert await own_redis.get(b"aiohttp_guard:not_before:" + EPOCH) is not None
        assert await status(client, bob) == 401
    finally:
        await app_redis.aclose()


async def test_a_restore_of_an_older_copy_is_noticed(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis comes back from a snapshot taken before a revocation (RDB, a
    backup, a replica that lagged): its epoch is still there, but it holds
    fewer revocations than the app saw, so the revoked ticket stays refused."""
    app_redis = connect(redis_server.url)
    try:
        phone = await aiohttp_client(
            guarded_app(RedisRevocationStore(app_redis, mirror=False))
        )
        laptop: Client = await aiohttp_client(phone.server)
        await log_in(phone, "alice")
        stolen = await log_in(laptop, "alice")
        # The copy Redis will come back from.
        await own_redis.save()  # pyright: ignore[reportUnknownMemberType]
        assert (await phone.post("/everywhere")).status == 200
        assert await status(laptop, stolen) == 401

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            redis_server.stop()  # without saving: the revocation is lost
            redis_server.start()
            assert await own_redis.get(b"aiohttp_guard:not_before:alice") is None
            assert await status(laptop, stolen) == 401
        (line,) = store_lines(caplog)
        assert line.levelno == logging.ERROR
        assert "holds less than this instance saw" in line.getMessage()
        await log_in(laptop, "alice")
        assert (await laptop.get("/private")).status == 200
    finally:
        await app_redis.aclose()


async def test_a_lost_count_of_revocations_is_a_loss(
    aiohttp_client: AiohttpClient,
    redis_client: Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Keys evicted under a maxmemory policy: the count of revocations going
    back is noticed as well as a missing epoch."""
    store = RedisRevocationStore(redis_client, prefix=redis_prefix, mirror=False)
    client = await aiohttp_client(guarded_app(store))
    await log_in(client, "alice")
    await client.post("/everywhere")
    bob = await log_in(client, "bob")
    assert await status(client, bob) == 200
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        await redis_client.delete(redis_prefix.encode() + REVISIONS)
        assert await status(client, bob) == 401
    (line,) = store_lines(caplog)
    assert "lost data" in line.getMessage()


async def test_instances_sharing_redis_agree_on_one_epoch(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis_a, redis_b = connect(redis_server.url), connect(redis_server.url)
    try:
        first = await aiohttp_client(
            guarded_app(RedisRevocationStore(redis_a, mirror=False))
        )
        second = await aiohttp_client(
            guarded_app(RedisRevocationStore(redis_b, mirror=False))
        )
        alice = await log_in(first, "alice")
        bob = await log_in(second, "bob")
        assert await status(second, alice) == 200  # tickets hold on both

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            redis_server.stop()
            redis_server.start()
            answers = await asyncio.gather(
                *(
                    client.get("/private", headers={"Cookie": f"AUTH_TKT={ticket}"})
                    for _ in range(10)
                    for client in (first, second)
                    for ticket in (alice, bob)
                )
            )
            assert {a.status for a in answers} == {401}
        (line,) = store_lines(caplog)  # one instance noticed first, and said so
        assert line.levelno == logging.ERROR

        epoch = int(await own_redis.get(b"aiohttp_guard:not_before:" + EPOCH) or 0)
        assert 0 < epoch <= time.time() * 1000
        # Both go by that epoch: a login on either is good on the other.
        carol = await log_in(first, "carol")
        dave = await log_in(second, "dave")
        assert await status(second, carol) == 200
        assert await status(first, dave) == 200
        assert await status(first, bob) == 401
    finally:
        await redis_a.aclose()
        await redis_b.aclose()


# -- a loss counted over by later revocations -----------------------------------


async def restore(server: RedisServer) -> None:
    """Redis comes back from its last SAVE (an RDB snapshot, a replica that
    lagged, a backup): whatever was written since is lost."""
    server.stop()  # without saving
    server.start()


async def test_a_lost_revocation_counted_over_by_another_instance_is_noticed(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis forgets alice's revocation, and another instance revokes someone
    before the one that revoked her looks again: the count is back where it
    was, but the revision it saw now holds another fingerprint, so alice's
    stolen ticket stays refused on every instance."""
    redis_a, redis_b = connect(redis_server.url), connect(redis_server.url)
    try:
        first = await aiohttp_client(
            guarded_app(RedisRevocationStore(redis_a, mirror=False))
        )
        second = await aiohttp_client(
            guarded_app(RedisRevocationStore(redis_b, mirror=False))
        )
        stolen = await log_in(first, "alice")
        assert await status(second, stolen) == 200
        await own_redis.save()  # pyright: ignore[reportUnknownMemberType]

        await log_in(first, "alice")  # she logs out everywhere on the first
        assert (await first.post("/everywhere")).status == 200
        assert await status(first, stolen) == 401

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            await restore(redis_server)
            await log_in(second, "bob")  # the second never saw her revocation
            assert (await second.post("/everywhere")).status == 200
            assert await own_redis.get(b"aiohttp_guard:not_before:alice") is None
            assert await status(first, stolen) == 401
            assert await status(second, stolen) == 401
            assert await status(first, stolen) == 401
        (line,) = store_lines(caplog)
        assert line.levelno == logging.ERROR
        assert "holds other revocations than this instance saw" in line.getMessage()

        carol = await log_in(second, "carol")  # new logins work everywhere
        assert await status(first, carol) == 200
        assert await status(second, carol) == 200
    finally:
        await redis_a.aclose()
        await redis_b.aclose()


async def test_a_revocation_right_after_a_loss_notices_it(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A single instance whose next call after the loss is a revocation: the
    count it gets back is not beyond the revision it saw, so that is a loss
    too, and both revocations hold."""
    app_redis = connect(redis_server.url)
    try:
        client = await aiohttp_client(
            guarded_app(RedisRevocationStore(app_redis, mirror=False))
        )
        stolen = await log_in(client, "alice")
        bob = await log_in(client, "bob")
        await own_redis.save()  # pyright: ignore[reportUnknownMemberType]
        await log_in(client, "alice")
        assert (await client.post("/everywhere")).status == 200

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            await restore(redis_server)
            await AuthService.of(client.app).logout_everywhere("bob")
        (line,) = store_lines(caplog)
        assert line.levelno == logging.ERROR
        assert "holds less than this instance saw" in line.getMessage()
        assert await status(client, stolen) == 401
        assert await status(client, bob) == 401
        assert await own_redis.get(b"aiohttp_guard:not_before:bob") is not None
    finally:
        await app_redis.aclose()


async def test_instances_noticing_a_loss_together_agree_on_one_epoch(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three instances saw alice's revocation; after the restore, an instance
    started since (it saw nothing) revokes bob. All three notice at once:
    one of them moves the epoch and says so, once, and all go by it."""
    clients = [connect(redis_server.url) for _ in range(4)]
    try:
        first, second, third, started_since = [
            await aiohttp_client(guarded_app(RedisRevocationStore(c, mirror=False)))
            for c in clients
        ]
        witnesses = (first, second, third)
        stolen = await log_in(first, "alice")
        dave = await log_in(first, "dave")
        await own_redis.save()  # pyright: ignore[reportUnknownMemberType]
        await log_in(first, "alice")
        assert (await first.post("/everywhere")).status == 200
        for instance in witnesses:
            assert await status(instance, stolen) == 401
            assert await status(instance, dave) == 200

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            await restore(redis_server)
            await log_in(started_since, "bob")
            assert (await started_since.post("/everywhere")).status == 200
            answers = await asyncio.gather(
                *(
                    instance.get("/private", headers={"Cookie": f"AUTH_TKT={ticket}"})
                    for _ in range(5)
                    for instance in witnesses
                    for ticket in (stolen, dave)
                )
            )
            assert {a.status for a in answers} == {401}
        (line,) = store_lines(caplog)
        assert line.levelno == logging.ERROR
        assert "lost data" in line.getMessage()

        epoch = int(await own_redis.get(b"aiohttp_guard:not_before:" + EPOCH) or 0)
        assert 0 < epoch <= time.time() * 1000
        carol = await log_in(second, "carol")
        for instance in (*witnesses, started_since):
            assert await status(instance, stolen) == 401
            assert await status(instance, carol) == 200
        assert store_lines(caplog) == [line]
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.parametrize("decode_responses", [False, True])
async def test_fingerprints_are_checked_as_long_as_they_are_kept(
    redis_server: RedisServer,
    own_redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    decode_responses: bool,
) -> None:
    """The store keeps the fingerprints of the latest revisions only (65536;
    4 here): a rewritten revision is noticed while its fingerprint is kept,
    however many revocations came after."""
    monkeypatch.setattr("aiohttp_guard._redis_times._FINGERPRINTS_KEPT", 4)
    redis = connect(redis_server.url, decode_responses=decode_responses)
    try:
        witness = RedisRevocationStore(redis, mirror=False)
        await witness.open()
        await own_redis.save()  # pyright: ignore[reportUnknownMemberType]
        await witness.revoke("alice", LATER, ttl=60)  # revision 1
        epoch = await witness.not_before("bob")

        await restore(redis_server)
        other = RedisRevocationStore(own_redis, mirror=False)
        for number in range(4):  # revisions 1 to 4, the first rewritten
            await other.revoke(f"user {number}", LATER, ttl=60)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            assert await witness.not_before("alice") > epoch
        (line,) = store_lines(caplog)
        assert "holds other revocations" in line.getMessage()
    finally:
        await redis.aclose()


async def test_an_instance_idle_for_longer_than_the_fingerprints_go_on(
    redis_server: RedisServer,
    own_redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An instance that served no identified request while more revocations
    were made than fingerprints are kept cannot check the revision it saw:
    it goes on from the current one (a debug line), never logging everybody
    out for having been idle, and checks from there."""
    monkeypatch.setattr("aiohttp_guard._redis_times._FINGERPRINTS_KEPT", 4)
    idle, busy = (
        RedisRevocationStore(own_redis, mirror=False),
        RedisRevocationStore(own_redis, mirror=False),
    )
    await busy.revoke("alice", LATER, ttl=60)
    epoch = await idle.not_before("bob")  # it saw revision 1
    for number in range(4):
        await busy.revoke(f"user {number}", LATER, ttl=60)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="aiohttp_guard"):
        assert await idle.not_before("bob") == epoch
        assert await idle.not_before("alice") == LATER
    assert not store_lines(caplog)
    (debug,) = [r for r in caplog.records if "fingerprints are kept" in r.getMessage()]
    assert "going on from revision 5" in debug.getMessage()

    await own_redis.save()  # pyright: ignore[reportUnknownMemberType]
    await busy.revoke("carol", LATER, ttl=60)
    assert await idle.not_before("bob") == epoch  # it saw revision 6
    await restore(redis_server)
    await RedisRevocationStore(own_redis, mirror=False).revoke("dave", LATER, ttl=60)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        assert await idle.not_before("carol") > epoch
    (line,) = store_lines(caplog)
    assert "holds other revocations" in line.getMessage()


async def test_revocations_counted_by_an_earlier_version_are_no_loss(
    redis_client: Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """During an upgrade, instances of the earlier version count their
    revocations without fingerprints: nothing is lost, nothing is said."""
    store = RedisRevocationStore(redis_client, prefix=redis_prefix, mirror=False)
    await store.revoke("alice", LATER, ttl=60)
    epoch = await store.not_before("bob")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        for user in ("carol", "dave"):  # what the earlier version wrote
            async with redis_client.pipeline(transaction=True) as pipe:
                pipe.set(f"{redis_prefix}{user}", str(LATER + 1), px=60_000)
                pipe.incr(redis_prefix.encode() + REVISIONS)
                pipe.get(redis_prefix.encode() + EPOCH)
                await pipe.execute()
            assert await store.not_before(user) == LATER + 1
            assert await store.not_before("bob") == epoch
        await store.revoke("erin", LATER, ttl=60)
        assert await store.not_before("bob") == epoch
    assert not store_lines(caplog)
    assert await redis_client.get(redis_prefix.encode() + REVISIONS) == b"4"


# -- starting ------------------------------------------------------------------


async def test_an_empty_redis_starts_the_epoch_at_startup(
    aiohttp_client: AiohttpClient,
    redis_client: Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A first start against an empty Redis: logins after startup work at
    once; tickets issued before it (under an in-memory store, say) are
    refused once."""
    earlier = await aiohttp_client(guarded_app(MemoryRevocationStore()))
    before = await log_in(earlier, "alice")
    assert await status(earlier, before) == 200

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        client = await aiohttp_client(
            guarded_app(
                RedisRevocationStore(redis_client, prefix=redis_prefix, mirror=False)
            )
        )
    (line,) = store_lines(caplog)
    assert line.levelno == logging.WARNING
    assert "found no record" in line.getMessage()
    epoch_key = redis_prefix.encode() + EPOCH
    epoch = await redis_client.get(epoch_key)
    assert epoch is not None
    assert await redis_client.pttl(epoch_key) == -1  # it never expires

    await log_in(client, "alice")
    assert await (await client.get("/private")).text() == "private for alice"
    assert await status(client, before) == 401
    await log_in(client, "alice")  # once
    assert (await client.get("/private")).status == 200

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        another = RedisRevocationStore(redis_client, prefix=redis_prefix, mirror=False)
        await another.open()  # another instance, or open() again: no change
        await another.open()
    assert not store_lines(caplog)
    assert await redis_client.get(epoch_key) == epoch


@pytest.mark.parametrize("with_data", [True, False], ids=["with-data", "empty"])
async def test_redis_down_at_startup_fails_closed_then_recovers(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
    with_data: bool,
) -> None:
    if with_data:  # an earlier start left its epoch, saved to disk
        await RedisRevocationStore(own_redis, mirror=False).open()
        await own_redis.save()  # pyright: ignore[reportUnknownMemberType]
    redis_server.stop()
    app_redis = connect(redis_server.url)
    try:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            client = await aiohttp_client(
                guarded_app(RedisRevocationStore(app_redis, timeout=0.5, mirror=False))
            )
            alice = await log_in(client, "alice")  # no store needed to log in
            for _ in range(3):
                assert (await client.get("/private")).status == 503
            assert await (await client.get("/public")).text() == "public"
        (line,) = store_lines(caplog)
        assert line.levelno == logging.ERROR
        assert "could not be opened at startup" in line.getMessage()

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            redis_server.start()
            if with_data:  # it was only unreachable: the ticket holds
                assert await answered(client, "/private") == 200
            else:  # it started empty after alice logged in: she logs in again
                assert await answered(client, "/private") == 401
                assert await status(client, alice) == 401
                await log_in(client, "alice")
                assert (await client.get("/private")).status == 200
        messages = [r.getMessage() for r in store_lines(caplog)]
        assert any("answers again" in m for m in messages)
        assert any("found no record" in m for m in messages) is not with_data
    finally:
        await app_redis.aclose()


DOCS = Path(__file__).resolve().parent.parent / "docs"


def documented_epoch_command() -> str:
    """The redis-cli command the docs give for creating the epoch at 0 (the
    same on both pages that give it)."""
    commands = {
        line
        for page in ("migrating-from-aiohttp-auth.md", "howto/several-instances.md")
        for line in (DOCS / page).read_text().splitlines()
        if line.startswith("redis-cli ")
    }
    (command,) = commands
    return command


def run_in_bash(command: str, server: RedisServer) -> str:
    """Runs a documented redis-cli command against `server`, as a shell
    would; returns what it printed."""
    bash, redis_cli = shutil.which("bash"), shutil.which("redis-cli")
    if bash is None or redis_cli is None:
        missing_service("bash and redis-cli are needed")
    command = command.replace("redis-cli ", f"{redis_cli} -p {server.port} ", 1)
    done = subprocess.run(  # noqa: S603 - the docs' command, on our own server
        [bash, "-c", command], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def legacy_app(store: RevocationStore) -> web.Application:
    """An app in the middle of a migration from aiohttp_auth."""
    app = make_app(
        CookieTicketPolicy(SECRET, 3600, accept_legacy=True), revocations=store
    )

    async def everywhere(request: web.Request) -> web.Response:
        await AuthService.of(request).logout_everywhere(request.query["user"])
        return web.Response(text="revoked")

    app.router.add_get("/everywhere", everywhere)
    return app


@pytest.mark.parametrize("epoch_at_zero", [True, False], ids=["epoch-0", "no-epoch"])
async def test_old_cookies_keep_working_if_the_epoch_is_created_at_zero(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    caplog: pytest.LogCaptureFixture,
    epoch_at_zero: bool,
) -> None:
    """A migration from aiohttp_auth with several instances: its converted
    tickets count as issued at 0, so they pass the store only if its epoch is
    0, which the operator creates with the docs' command before the first
    start. Without it, old cookies are refused and users log in again."""
    epoch_key = b"aiohttp_guard:not_before:" + EPOCH
    if epoch_at_zero:
        assert run_in_bash(documented_epoch_command(), redis_server) == "OK"
        assert await own_redis.get(epoch_key) == b"0"
    app_redis = connect(redis_server.url)
    try:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            client = await aiohttp_client(
                legacy_app(RedisRevocationStore(app_redis, mirror=False))
            )
        assert bool(store_lines(caplog)) is not epoch_at_zero  # "found no record"
        alice, bob = old_ticket("alice"), old_ticket("bob")
        if not epoch_at_zero:
            assert await status(client, alice) == 401
            return

        response = await client.get("/private", cookies={"AUTH_TKT": alice})
        assert await response.text() == "private for alice"
        renewed = set_cookies(response)["AUTH_TKT"].value  # in the new format
        assert await status(client, renewed) == 200
        assert await status(client, bob) == 200
        assert await (await client.get("/everywhere", params={"user": "bob"})).text()
        assert await status(client, bob) == 401  # revocations hold as ever
        assert await status(client, alice) == 200
        # The command never lowers an epoch already there.
        assert run_in_bash(documented_epoch_command(), redis_server) == ""
        assert await own_redis.get(epoch_key) == b"0"

        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            await restart(redis_server, own_redis)  # a loss, noticed:
            assert await status(client, alice) == 401  # old cookies end there
        assert int(await own_redis.get(epoch_key) or 0) > 0
    finally:
        await app_redis.aclose()


# -- the store itself ------------------------------------------------------------


@pytest.mark.parametrize("decode_responses", [False, True])
async def test_revoke_as_the_first_call_starts_the_epoch(
    redis_prefix: str, caplog: pytest.LogCaptureFixture, decode_responses: bool
) -> None:
    later = 4_000_000_000_000
    redis = connect(REDIS_URL, decode_responses=decode_responses)
    try:
        store = RedisRevocationStore(redis, prefix=redis_prefix, mirror=False)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            await store.revoke("alice", later, ttl=60)
            epoch = await store.not_before("bob")
            assert await store.not_before("alice") == later
            assert epoch <= time.time() * 1000
        (line,) = store_lines(caplog)
        assert "found no record" in line.getMessage()
        assert await redis.pttl(redis_prefix.encode() + EPOCH) == -1

        await redis.delete(redis_prefix.encode() + EPOCH)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            assert await store.not_before("bob") > epoch
        (line,) = store_lines(caplog)
        assert "lost data" in line.getMessage()
    finally:
        await redis.aclose()


async def test_users_keys_keep_their_layout_apart_from_the_stores_own(
    redis_client: Redis, redis_prefix: str
) -> None:
    """A user's entry is still `prefix + user id` (entries written by earlier
    versions count), and no user id reaches the store's own keys."""
    later = 4_000_000_000_000
    store = RedisRevocationStore(redis_client, prefix=redis_prefix, mirror=False)
    await store.open()
    await redis_client.set(f"{redis_prefix}old entry", str(later))
    assert await store.not_before("old entry") == later

    epoch = await store.not_before("nobody")
    own = ("\xffepoch", "\xffrevisions", "\xfffingerprints")
    for user_id in (*own, "", "\udcffepoch", "ÿ"):
        await store.revoke(user_id, later + 1, ttl=60)
        assert await store.not_before(user_id) == later + 1
    assert await store.not_before("nobody") == epoch
    assert await redis_client.get(redis_prefix.encode() + REVISIONS) == b"6"
