"""Login sessions in a real Redis (`RedisSessionRegistry`), through real
servers: what the memory registry does, shared between instances, with no
round trip per request, and failing closed when Redis does not answer or
comes back without its data."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    EARLIER_LOGINS,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    LoginSession,
    RedisRevocationStore,
    RedisSessionRegistry,
    TicketCodec,
    remember,
)

from .conftest import SECRET, RedisServer, connect
from .test_login_sessions import (
    Client,
    client_for,
    device,
    log_in,
    raw_login,
    service_of,
    sessions_app,
    status,
)
from .test_revocation_mirror import commands, mirrored

#: The default bound, in seconds, on how late an end is enforced elsewhere.
MAX_LAG = 0.1


class CountingRedisRegistry(RedisSessionRegistry):
    """Counts the writes of sessions' last sight."""

    def __init__(self, redis: Redis, **options: Any) -> None:
        super().__init__(redis, **options)
        self.writes = 0

    async def seen(self, session: LoginSession, ttl: float | None) -> None:
        self.writes += 1
        await super().seen(session, ttl)


def session_id(ticket: str) -> str:
    found = TicketCodec(SECRET).decode(ticket).session_id
    assert found is not None
    return found


async def redis_client_for(
    aiohttp_client: AiohttpClient,
    redis: Redis,
    prefix: str,
    *,
    gives_up_after: float = 1.0,
    max_lag: float = MAX_LAG,
) -> Client:
    """A client of an app whose sessions and revocations are in `redis`;
    their calls give up after `gives_up_after` seconds."""
    registry = RedisSessionRegistry(
        redis, prefix=prefix, timeout=gives_up_after, max_lag=max_lag
    )
    revocations = RedisRevocationStore(
        redis, prefix=prefix + "revoked:", timeout=gives_up_after, max_lag=max_lag
    )
    app = sessions_app(sessions=registry, revocations=revocations)
    return await client_for(aiohttp_client, app)


async def test_sessions_are_listed_and_ended_through_redis(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    client = await redis_client_for(aiohttp_client, redis_client, redis_prefix)
    service = service_of(client)
    phone, laptop, tablet = [await log_in(client, "alice", a) for a in "plt"]
    listed = await service.sessions("alice")
    assert [s.user_agent for s in listed] == ["t", "l", "p"]
    assert {s.policy for s in listed} == {"cookie"}
    assert {s.address for s in listed} == {"127.0.0.1"}
    shown = await (await client.get("/devices", headers=device(laptop))).json()
    assert [d["current"] for d in shown] == [False, True, False]
    assert await service.end_session("alice", session_id(phone))
    assert not await service.end_session("bob", session_id(laptop))
    assert [await status(client, t) for t in (phone, laptop, tablet)] == [
        401,
        200,
        200,
    ]
    response = await client.get("/end-others", headers=device(laptop))
    assert await response.text() == "1"
    assert [await status(client, t) for t in (laptop, tablet)] == [200, 401]
    await client.get("/logout", headers=device(laptop))
    assert await status(client, laptop) == 401
    assert await service.sessions("alice") == []


async def test_a_request_costs_no_redis_round_trip(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    # A long max_lag: the copies' checks (two commands each) come every 2.5 s.
    client = await redis_client_for(
        aiohttp_client, own_redis, "aiohttp_guard:", max_lag=10
    )
    service = service_of(client)
    registry = service.sessions_check.registry
    assert isinstance(registry, RedisSessionRegistry)
    ticket = await log_in(client, "alice")
    await mirrored(registry.ends)
    assert registry.mirrored
    before = await commands(own_redis)
    for _ in range(200):
        assert await status(client, ticket) == 200
    assert await commands(own_redis) - before <= 5  # 400 without the copies


async def test_an_end_on_one_instance_is_enforced_on_another_within_max_lag(
    aiohttp_client: AiohttpClient, redis_prefix: str
) -> None:
    first_redis, second_redis = (connect("redis://127.0.0.1:6379/0") for _ in "ab")
    try:
        first = await redis_client_for(aiohttp_client, first_redis, redis_prefix)
        second = await redis_client_for(aiohttp_client, second_redis, redis_prefix)
        ticket = await log_in(first, "alice")
        assert await status(second, ticket) == 200
        ended_at = time.monotonic()
        assert await service_of(first).end_session("alice", session_id(ticket))
        assert await status(first, ticket) == 401  # at once where it was ended
        while await status(second, ticket) == 200:
            assert time.monotonic() - ended_at < MAX_LAG
            await asyncio.sleep(0.005)
        assert [s.id for s in await service_of(second).sessions("alice")] == []
    finally:
        await first_redis.aclose()
        await second_redis.aclose()


async def test_max_sessions_and_last_seen_in_redis(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    registry = CountingRedisRegistry(
        redis_client, prefix=redis_prefix, max_sessions=2, last_seen_interval=0
    )
    client = await client_for(aiohttp_client, sessions_app(sessions=registry))
    first, second = await log_in(client, "alice"), await log_in(client, "alice")
    await asyncio.sleep(0.002)
    assert await status(client, first) == 200  # seen after the second
    third = await log_in(client, "alice")
    assert [await status(client, t) for t in (first, second, third)] == [
        200,
        401,
        200,
    ]
    assert {s.id for s in await registry.of_user("alice")} == {
        session_id(first),
        session_id(third),
    }
    lazy = CountingRedisRegistry(redis_client, prefix=redis_prefix + "lazy:")
    client = await client_for(aiohttp_client, sessions_app(sessions=lazy))
    ticket = await log_in(client, "bob")
    for _ in range(30):
        assert await status(client, ticket) == 200
    assert lazy.writes == 0  # within last_seen_interval of the login


async def test_records_expire_with_their_tickets_in_redis(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    registry = RedisSessionRegistry(
        redis_client, prefix=redis_prefix, last_seen_interval=1
    )
    client = await client_for(
        aiohttp_client,
        sessions_app(CookieTicketPolicy(SECRET, 10), sessions=registry),
    )
    await log_in(client, "alice")
    key = (redis_prefix + "u:alice").encode()
    ttl_ms = await redis_client.pttl(key)  # pyright: ignore[reportUnknownMemberType]
    assert 15_000 < ttl_ms <= 16_000  # max_age, clock skew, one interval
    # A record past its expiry is not listed, even before Redis drops it.
    await redis_client.hset(  # pyright: ignore[reportUnknownMemberType]
        key, "old", '{"id":"old","c":1,"s":1,"x":2}'
    )
    listed = {s.id for s in await registry.of_user("alice")}
    assert "old" not in listed
    assert len(listed) == 1


async def test_earlier_logins_in_redis(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    client = await redis_client_for(aiohttp_client, redis_client, redis_prefix)
    codec = TicketCodec(SECRET)
    earlier = codec.encode(codec.issue("alice", 600))
    assert await status(client, earlier) == 200
    [entry] = await service_of(client).sessions("alice")
    assert entry.earlier_logins
    assert await service_of(client).end_session("alice", EARLIER_LOGINS)
    assert await status(client, earlier) == 401
    later = codec.encode(codec.issue("alice", 600))
    await asyncio.sleep(0.002)
    assert await status(client, later) == 200  # made after the end


async def test_an_unanswering_redis_is_a_503_then_service_resumes(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    client = await redis_client_for(
        aiohttp_client, own_redis, "aiohttp_guard:sessions:", gives_up_after=0.3
    )
    ticket = await log_in(client, "alice")
    assert await status(client, ticket) == 200
    await own_redis.client_pause(3000, all=True)  # pyright: ignore[reportUnknownMemberType]
    paused = time.monotonic()
    # The copy in memory lapses within max_lag; from then on the end of the
    # session cannot be checked, and the request is refused.
    await asyncio.sleep(0.3)
    assert await status(client, ticket) == 503
    response = await client.get("/login", params={"user": "bob"})
    assert response.status == 503
    with pytest.raises(Exception):  # noqa: B017, PT011 - a timeout or a Redis error
        await service_of(client).sessions("alice")
    deadline = paused + 8
    while await status(client, ticket) != 200:
        assert time.monotonic() < deadline, "service did not resume"
        await asyncio.sleep(0.05)


async def test_a_redis_restarted_empty_refuses_every_earlier_ticket(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    client = await redis_client_for(aiohttp_client, own_redis, "aiohttp_guard:s:")
    ticket = await log_in(client, "alice")
    assert await status(client, ticket) == 200
    redis_server.stop()
    redis_server.start()  # no persistence: it comes back empty
    deadline = time.monotonic() + 5
    seen: list[int] = []
    while time.monotonic() < deadline:
        seen.append(await status(client, ticket))
        if seen[-1] == 401:
            break
        await asyncio.sleep(0.05)
    assert seen[-1] == 401, seen
    assert 200 not in seen[1:], seen  # never accepted once Redis was back
    assert set(seen) <= {200, 401, 503}
    assert await service_of(client).sessions("alice") == []
    fresh = await log_in(client, "alice")
    assert await status(client, fresh) == 200


async def test_a_decoding_client_works_the_same(
    aiohttp_client: AiohttpClient, redis_prefix: str
) -> None:
    decoding = connect("redis://127.0.0.1:6379/0", decode_responses=True)
    try:
        client = await redis_client_for(aiohttp_client, decoding, redis_prefix)
        ticket = await log_in(client, "ünïcode")
        [session] = await service_of(client).sessions("ünïcode")
        assert session.id == session_id(ticket)
        assert await service_of(client).end_session("ünïcode", session.id)
        assert await status(client, ticket) == 401
    finally:
        await decoding.aclose()


async def test_an_epoch_created_at_0_keeps_earlier_tickets_on_the_first_start(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    """As the reference says: without it, the registry's first start refuses
    the tickets issued before it; with it, they stay valid."""
    codec = TicketCodec(SECRET)
    before = codec.encode(codec.issue("alice", 600))
    await asyncio.sleep(0.002)
    client = await redis_client_for(aiohttp_client, own_redis, "first:")
    assert await status(client, before) == 401
    await own_redis.set(b"second:ended:\xffepoch", 0, nx=True)  # pyright: ignore[reportUnknownMemberType]
    await own_redis.set(b"second:revoked:\xffepoch", 0, nx=True)  # pyright: ignore[reportUnknownMemberType]
    client = await redis_client_for(aiohttp_client, own_redis, "second:")
    assert await status(client, before) == 200


async def test_a_user_agent_that_is_not_utf8_is_recorded_in_redis(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    """Lua's JSON would refuse what such a byte becomes in Python: the
    session would be valid, yet never listed nor ended."""
    client = await redis_client_for(aiohttp_client, redis_client, redis_prefix)
    mine = await log_in(client, "alice", "mine")
    theirs = await raw_login(client, "alice", "évil".encode() + b"\xff")
    listed = await service_of(client).sessions("alice")
    assert {s.user_agent for s in listed} == {"mine", "évil?"}
    response = await client.get("/end-others", headers=device(mine))
    assert await response.text() == "1"
    assert await status(client, theirs) == 401


async def test_a_bearer_token_is_recorded_before_it_is_handed_out(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    """A handler may write the token into a response it has started: the
    session is recorded before the token reaches the handler, and a token
    whose session cannot be recorded is never handed out."""
    registry = RedisSessionRegistry(own_redis, timeout=0.3)
    app = web.Application()
    service = AuthService(BearerTicketPolicy(SECRET, 600), sessions=registry)
    service.setup(app)

    async def token(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            issued = await remember(request, "robot")
        except web.HTTPServiceUnavailable:
            await response.write(b"refused")
        else:
            await response.write(str(issued).encode())
        return response

    app.router.add_post("/token", token)
    client = await aiohttp_client(app)
    issued = await (await client.post("/token")).text()
    [session] = await service.sessions("robot")
    assert TicketCodec(SECRET).decode(issued).session_id == session.id
    await own_redis.client_pause(1500, all=False)  # pyright: ignore[reportUnknownMemberType]
    response = await client.post("/token")
    assert await response.read() == b"refused"  # no token handed out
