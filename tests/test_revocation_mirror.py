"""`RedisRevocationStore` answers look-ups from a copy in memory that Redis
pub/sub keeps current: no round trip per request, a revocation made on
another instance enforced within `max_lag`, and, whenever the copy may be
incomplete (a killed subscription, a restart, a flush, a lost message, a
revocation nobody published), a look-up per request until it is rebuilt.

Every instance here is a real app on a real server with a Redis client of
its own; outages and losses run on a redis-server of the test's own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import pytest
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import RedisRevocationStore
from aiohttp_guard.revocation import Unknown

from .conftest import RedisServer, connect
from .test_revocation_loss import (
    REVISIONS,
    Client,
    Loss,
    evict_epoch,
    flushall,
    flushdb,
    guarded_app,
    log_in,
    restart,
    status,
)

PREFIX = b"aiohttp_guard:not_before:"
CHANNEL = PREFIX + b"changes"
#: The default bound, in seconds, on how late a revocation is enforced.
MAX_LAG = 0.1


async def commands(redis: Redis) -> int:
    """How many commands Redis has run, this one's INFO aside."""
    stats = await redis.info("stats")  # pyright: ignore[reportUnknownMemberType]
    return int(stats["total_commands_processed"])


async def mirrored(store: RedisRevocationStore, within: float = 5.0) -> None:
    """Returns once `store` answers from memory."""
    deadline = time.monotonic() + within
    while not store.mirrored:
        assert time.monotonic() < deadline, f"{store!r} never mirrored Redis"
        await asyncio.sleep(0.005)


async def subscribers(redis: Redis) -> int:
    """How many clients follow the store's channel."""
    counts = await redis.pubsub_numsub(CHANNEL)  # pyright: ignore[reportUnknownMemberType]
    return int(counts[0][1])


def following_tasks() -> list[asyncio.Task[object]]:
    """The tasks of this loop that follow Redis for a store."""
    return [t for t in asyncio.all_tasks() if "_follow_forever" in repr(t)]


async def refused_within(client: Client, ticket: str, bound: float) -> float:
    """How long, polling, until `ticket` is refused (401), by the time the
    refused request was sent; fails when a request sent past `bound`
    seconds is accepted, or on anything but 200 and 401. By the time sent,
    not answered: on a loaded machine an answer given in time may arrive
    late."""
    started = time.monotonic()
    while True:
        sent = time.monotonic() - started
        answer = await status(client, ticket)
        if answer == 401:
            return sent
        assert answer == 200, answer
        assert sent <= bound, f"still accepted {sent:.3f} s after"
        await asyncio.sleep(0.002)


@asynccontextmanager
async def instances(
    aiohttp_client: AiohttpClient,
    url: str,
    count: int = 2,
    *,
    mirror: bool = True,
    max_lag: float = MAX_LAG,
) -> AsyncGenerator[list[tuple[Client, RedisRevocationStore]]]:
    """`count` instances of one app, each with its own Redis client and
    store, sharing only Redis."""
    clients = [connect(url) for _ in range(count)]
    try:
        made: list[tuple[Client, RedisRevocationStore]] = []
        for redis in clients:
            store = RedisRevocationStore(
                redis, timeout=0.5, mirror=mirror, max_lag=max_lag
            )
            made.append((await aiohttp_client(guarded_app(store)), store))
        yield made
    finally:
        for redis in clients:
            await redis.aclose()


async def test_a_guarded_request_costs_no_round_trip(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    # A long max_lag: its checks (two commands each) come every 2.5 s.
    async with instances(aiohttp_client, redis_server.url, 1, max_lag=10) as made:
        ((client, store),) = made
        alice = await log_in(client, "alice")
        await store.revoke("mallory", int(time.time() * 1000), 60)  # never empty
        await mirrored(store)
        before = await commands(own_redis)
        for _ in range(200):
            assert await status(client, alice) == 200
        assert await commands(own_redis) - before <= 5  # 200 without the copy


async def test_without_the_copy_every_request_asks_redis(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    async with instances(aiohttp_client, redis_server.url, 1, mirror=False) as made:
        ((client, store),) = made
        alice = await log_in(client, "alice")
        assert not store.mirrored
        before = await commands(own_redis)
        for _ in range(50):
            assert await status(client, alice) == 200
        assert await commands(own_redis) - before >= 50


async def test_a_revocation_reaches_another_instance_within_max_lag(
    aiohttp_client: AiohttpClient, redis_server: RedisServer
) -> None:
    async with instances(aiohttp_client, redis_server.url) as made:
        (phone, first), (laptop, second) = made
        await mirrored(first)
        await mirrored(second)
        on_laptop = await log_in(laptop, "alice")
        await log_in(phone, "alice")
        assert (await phone.post("/everywhere")).status == 200
        await refused_within(laptop, on_laptop, MAX_LAG)
        assert second.mirrored  # answered from memory, not by falling back
        # A new login after it stands on both.
        again = await log_in(phone, "alice")
        assert await status(laptop, again) == 200


async def test_the_revoking_instance_enforces_at_once(
    aiohttp_client: AiohttpClient, redis_server: RedisServer
) -> None:
    async with instances(aiohttp_client, redis_server.url, 1, max_lag=10) as made:
        ((client, store),) = made
        await mirrored(store)
        alice = await log_in(client, "alice")
        assert (
            await client.post("/everywhere", cookies={"AUTH_TKT": alice})
        ).status == 200
        assert await status(client, alice) == 401


async def hammer(
    client: Client, ticket: str, seen: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    """Presents `ticket` again and again, noting when and what came back."""
    while not stop.is_set():
        seen.append((time.monotonic(), await status(client, ticket)))
        await asyncio.sleep(0.001)


def accepted_after(seen: list[tuple[float, int]], moment: float) -> list[float]:
    return [at - moment for at, answer in seen if answer == 200 and at > moment]


async def test_a_killed_subscription_never_lets_a_revoked_ticket_through(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    async with instances(aiohttp_client, redis_server.url) as made:
        (phone, _), (laptop, second) = made
        await mirrored(second)
        on_laptop = await log_in(laptop, "alice")
        await log_in(phone, "alice")
        seen: list[tuple[float, int]] = []
        stop = asyncio.Event()
        task = asyncio.create_task(hammer(laptop, on_laptop, seen, stop))
        try:
            await asyncio.sleep(0.05)
            await own_redis.client_kill_filter(_type="pubsub")  # pyright: ignore[reportUnknownMemberType]
            assert (await phone.post("/everywhere")).status == 200
            revoked_at = time.monotonic()
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await task
        assert {answer for _, answer in seen} <= {200, 401}  # never a 500
        assert not accepted_after(seen, revoked_at + MAX_LAG)
        await mirrored(second)  # back on its copy
        again = await log_in(phone, "bob")
        assert (
            await phone.post("/everywhere", cookies={"AUTH_TKT": again})
        ).status == 200
        await refused_within(laptop, again, MAX_LAG)


@pytest.mark.parametrize("lose", [restart, flushdb, flushall, evict_epoch])
async def test_a_loss_is_enforced_within_max_lag(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    lose: Loss,
) -> None:
    """Redis forgets everything: the copy is rebuilt on a new epoch, so every
    earlier ticket is refused (401, 503 while Redis is down, never 500), and
    a revoked one is never accepted meanwhile."""
    async with instances(aiohttp_client, redis_server.url) as made:
        (phone, _), (laptop, second) = made
        await mirrored(second)
        bob = await log_in(laptop, "bob")
        mallory = await log_in(laptop, "mallory")
        mallory_phone = await log_in(phone, "mallory")
        assert (
            await phone.post("/everywhere", cookies={"AUTH_TKT": mallory_phone})
        ).status == 200
        await refused_within(laptop, mallory, MAX_LAG)
        seen: list[tuple[float, int]] = []
        stop = asyncio.Event()
        task = asyncio.create_task(hammer(laptop, mallory, seen, stop))
        try:
            await lose(redis_server, own_redis)
            lost_at = time.monotonic()
            await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
        assert {answer for _, answer in seen} <= {401, 503}  # revoked: never 200
        deadline = time.monotonic() + 5
        while (answer := await status(laptop, bob)) != 401:
            assert answer in {200, 503}
            assert answer == 503 or time.monotonic() - lost_at <= MAX_LAG + 0.05
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        await mirrored(second)
        fresh = await log_in(laptop, "bob")
        assert await status(laptop, fresh) == 200


async def test_a_revocation_nobody_published_is_found(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    """As an instance of an earlier version writes one (no message): the
    count the copy checks shows it, and the copy is rebuilt."""
    async with instances(aiohttp_client, redis_server.url, 1) as made:
        ((client, store),) = made
        await mirrored(store)
        alice = await log_in(client, "alice")
        later = int(time.time() * 1000) + 1
        await own_redis.set(PREFIX + b"alice", later, px=60_000)
        await own_redis.incr(PREFIX + REVISIONS)
        await refused_within(client, alice, MAX_LAG + 0.2)
        await mirrored(store)


@pytest.mark.parametrize(
    "junk",
    [b"nonsense", b"r 999999 1 1 " + PREFIX + b"x", b"r 1 2 3 other:key", b"e x"],
    ids=["unreadable", "skips-revisions", "another-key", "bad-epoch"],
)
async def test_junk_on_the_channel_is_a_doubt_not_a_crash(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    own_redis: Redis,
    junk: bytes,
) -> None:
    async with instances(aiohttp_client, redis_server.url) as made:
        (phone, _), (laptop, second) = made
        await mirrored(second)
        alice = await log_in(laptop, "alice")
        await own_redis.publish(CHANNEL, junk)  # pyright: ignore[reportUnknownMemberType]
        for _ in range(20):
            assert await status(laptop, alice) == 200
            await asyncio.sleep(0.005)
        await mirrored(second)
        # It still follows: a revocation made afterwards reaches it.
        await log_in(phone, "alice")
        assert (await phone.post("/everywhere")).status == 200
        await refused_within(laptop, alice, MAX_LAG)


async def test_the_copy_stops_with_the_app(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    redis = connect(redis_server.url)
    try:
        store = RedisRevocationStore(redis)
        client = await aiohttp_client(guarded_app(store))
        await mirrored(store)
        assert await subscribers(own_redis) == 1
        await client.close()
        assert not store.mirrored
        assert await subscribers(own_redis) == 0
        assert not following_tasks()
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    ("protocol", "decode_responses"),
    [(3, True), (2, True), (2, False)],
    ids=["resp3-decoding", "resp2-decoding", "resp2"],
)
async def test_every_kind_of_client_mirrors(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    protocol: int,
    decode_responses: bool,
) -> None:
    """Either protocol, decoding responses or not (the other tests: RESP3,
    bytes)."""
    decoding: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        redis_server.url, protocol=protocol, decode_responses=decode_responses
    )
    plain = connect(redis_server.url)
    try:
        first = RedisRevocationStore(decoding)
        second = RedisRevocationStore(plain)
        laptop = await aiohttp_client(guarded_app(first))
        phone = await aiohttp_client(guarded_app(second))
        await mirrored(first)
        alice = await log_in(laptop, "alice")
        await log_in(phone, "alice")
        assert (await phone.post("/everywhere")).status == 200
        await refused_within(laptop, alice, MAX_LAG)
        assert first.mirrored
    finally:
        await decoding.aclose()
        await plain.aclose()


@pytest.mark.parametrize("max_lag", [0, -1.0])
def test_max_lag_must_be_positive(max_lag: float) -> None:
    redis: Redis = Redis()
    with pytest.raises(ValueError, match="max_lag"):
        RedisRevocationStore(redis, max_lag=max_lag)


async def test_the_empty_user_id_is_copied_too(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    """Its key is the prefix itself, which a pattern of the prefix plus more
    would miss: an instance that rebuilds its copy must still refuse it."""
    async with instances(aiohttp_client, redis_server.url) as made:
        (phone, first), (laptop, second) = made
        await mirrored(first)
        ticket = await log_in(laptop, "")
        assert await status(laptop, ticket) == 200
        await first.revoke("", int(time.time() * 1000) + 1, 60)
        await asyncio.sleep(0.01)
        await own_redis.client_kill_filter(_type="pubsub")  # pyright: ignore[reportUnknownMemberType]
        await asyncio.sleep(0.05)
        await mirrored(first)
        await mirrored(second)
        assert await status(laptop, ticket) == 401
        assert await status(phone, ticket) == 401


async def test_keys_the_copy_cannot_read_leave_the_rest_copied(
    aiohttp_client: AiohttpClient, redis_server: RedisServer, own_redis: Redis
) -> None:
    """A hash under the prefix, and a name no str encodes to (another
    store's prefix inside this one's): only they are left to Redis."""
    await own_redis.hset(PREFIX + b"a-hash", "field", "value")  # pyright: ignore[reportUnknownMemberType]
    await own_redis.set(PREFIX + b"other:\xfe\xffepoch", b"1")
    async with instances(aiohttp_client, redis_server.url, 1) as made:
        ((client, store),) = made
        await mirrored(store)
        alice = await log_in(client, "alice")
        assert await status(client, alice) == 200
        assert store.known_not_before("a-hash") is Unknown.UNKNOWN
        assert isinstance(store.known_not_before("alice"), int)


async def test_a_name_that_is_no_utf_8_reaches_a_decoding_client(
    redis_server: RedisServer,
) -> None:
    """A user id with a lone surrogate (tickets carry it) revoked through
    one client is copied by a store whose client decodes responses."""
    plain = connect(redis_server.url)
    decoding = connect(redis_server.url, decode_responses=True)
    writer, reader = RedisRevocationStore(plain), RedisRevocationStore(decoding)
    name = "mallory\udc80"
    try:
        await reader.open()
        await writer.revoke(name, 4_000_000_000_000, 60)
        deadline = time.monotonic() + 1
        while reader.known_not_before(name) != 4_000_000_000_000:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        # ...and a copy rebuilt from scratch reads its key too.
        later = RedisRevocationStore(decoding)
        await later.open()
        await mirrored(later)
        assert later.known_not_before(name) == 4_000_000_000_000
        await later.close()
        assert reader.mirrored
    finally:
        await reader.close()
        await plain.aclose()
        await decoding.aclose()


async def test_open_twice_then_close_stops_following(
    redis_server: RedisServer, own_redis: Redis
) -> None:
    redis = connect(redis_server.url)
    try:
        store = RedisRevocationStore(redis)
        await store.open()
        await store.open()
        await mirrored(store)
        assert await subscribers(own_redis) == 1
        await store.close()
        assert not store.mirrored
        assert await subscribers(own_redis) == 0
        assert not following_tasks()
    finally:
        await redis.aclose()


async def test_open_and_close_racing_leave_nothing_behind(
    redis_server: RedisServer, own_redis: Redis
) -> None:
    """A close() while open() waits for the copy, and an open() while close()
    waits for the follower to end: no error, and no task or connection left
    once the last close() is done (a decoding client, whose follower reads
    through a pool of its own)."""
    name = "racing-store"

    async def connections() -> int:
        clients = await own_redis.client_list()  # pyright: ignore[reportUnknownMemberType]
        return sum(1 for c in clients if c.get("name") == name)

    client: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        redis_server.url, decode_responses=True, client_name=name
    )
    store = RedisRevocationStore(client)
    try:
        opening = asyncio.create_task(store.open())
        await asyncio.sleep(0.005)
        await store.close()
        await opening  # returns, having been stopped

        await store.open()
        closing = asyncio.create_task(store.close())
        await asyncio.sleep(0)
        await store.open()
        await closing
        await store.close()
        assert not following_tasks()
    finally:
        await client.aclose()
    assert await connections() == 0
