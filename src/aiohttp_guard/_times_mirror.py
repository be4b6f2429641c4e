"""A copy in this process's memory of a `RedisTimes` map, kept current by
Redis pub/sub, so that a look-up costs no round trip.

Why pub/sub: every write already runs as one script, which publishes the
change in the same atomic step, numbered by the map's count of revisions. It
needs no server setting (keyspace notifications are off by default, and
managed Redis often forbids turning them on), and, unlike RESP3 client-side
caching, redis-py's asyncio client supports it fully.

The copy is trusted only while it is known to be complete, and fails closed
otherwise: `known` answers None and the caller asks Redis, as it would
without a copy.

- Starting, and after any doubt, the copy is rebuilt: subscribe first, then
  read the map's state and every entry, then apply what was published
  meanwhile. Times only go up, so entries read in batches (not one snapshot)
  plus the changes published since the state was read make a complete copy.
- A change whose revision is not the next one (a message lost), a new epoch
  (Redis lost data), or anything unreadable on the channel is a doubt.
- Trust is a lease. Every `max_lag / 4` seconds the follower reads the map's
  revision count, then pings on the subscription: the pong comes after every
  message published before it, so once it is in, the copy holds every
  revision up to that count, or a message was missed (a doubt). Each such
  check extends trust to `max_lag` after the count was read; a subscription
  that dies silently, a Redis that hangs, or an event loop too busy to read
  its messages lets the lease run out instead. So a write made anywhere is
  enforced here within `max_lag` seconds, or this instance asks Redis.
- A lost connection is a doubt too: the follower reconnects, with backoff,
  and rebuilds the copy; one log line (INFO: an outage of Redis itself is
  logged by whoever asks it next) when it loses the copy after a failure,
  one when it has it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

from ._redis_times import RedisTimes, State, as_bytes
from .audit import audit

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = ["TimesMirror"]

log = logging.getLogger("aiohttp_guard")

#: (time, deadline on the `_now` clock): an entry of the copy.
_Kept = tuple[int | None, float]


class _OutOfStepError(Exception):
    """The copy may lack a change: rebuild it."""


class TimesMirror:
    """Follows `times` in memory.

    Args:
        times: The map in Redis.
        redis_client: The client whose connections the subscription uses.
        max_lag: Seconds after which a change made on another instance is
            enforced here at the latest (else this instance asks Redis).
        timeout: Seconds after which a call to Redis is given up.
    """

    __slots__ = (
        "_client",
        "_entries",
        "_epoch",
        "_failing",
        "_interval",
        "_last",
        "_pruned_at",
        "_reached",
        "_task",
        "_timeout",
        "_times",
        "_trusted_until",
        "max_lag",
    )

    def __init__(
        self, times: RedisTimes, redis_client: Redis, *, max_lag: float, timeout: float
    ) -> None:
        if not max_lag > 0:
            raise ValueError(
                f"max_lag must be a positive number of seconds, not {max_lag!r}"
            )
        self._times = times
        #: The follower reads through this client, or through one of its
        #: own on the same server when this one decodes responses (names
        #: that are not UTF-8 would not decode): see `_undecoding`.
        self._client = redis_client
        self.max_lag = max_lag
        self._interval = max_lag / 4
        self._timeout = timeout
        self._entries: dict[str, _Kept] = {}
        self._epoch = 0
        self._last = 0
        #: Until when (`_now`) the copy may be trusted; 0: not now.
        self._trusted_until = 0.0
        self._failing = False
        #: Whether the current round of following has reached trust.
        self._reached = False
        self._pruned_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def trusted(self) -> bool:
        """Whether look-ups are answered from memory now."""
        return _now() < self._trusted_until

    def known(self, name: str) -> int | None:
        """The time of `name`, at least the epoch, from memory; None when
        the copy cannot be trusted now (ask Redis)."""
        now = _now()
        if now >= self._trusted_until:
            return None
        kept = self._entries.get(name)
        if kept is None or kept[1] <= now:
            return self._epoch
        held = kept[0]
        return None if held is None else max(held, self._epoch)

    def learn(self, name: str, time_ms: int, ms_left: int | None) -> None:
        """Take in a write this instance made, before its message comes, so
        that the instance that wrote enforces it at once."""
        self._merge(self._entries, name, time_ms, ms_left)

    async def start(self) -> None:
        """Start following, and wait (up to the timeout) until the copy is
        trusted; calling it again while following does nothing."""
        task = self._task
        if task is None or task.done():
            task = self._task = asyncio.create_task(
                self._follow_forever(_undecoding(self._client))
            )
        deadline = _now() + self._timeout
        while not self.trusted and _now() < deadline:
            if task is not self._task or task.done():
                return  # stopped meanwhile, or gave up
            await asyncio.sleep(self._interval / 4)

    async def stop(self) -> None:
        """Stop following; look-ups go to Redis from now on."""
        self._trusted_until = 0.0
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # A cancellation redis-py swallowed is seen within a timeout.
            await asyncio.wait({task}, timeout=2 * self._timeout)

    async def _follow_forever(self, reader: Redis) -> None:
        """Follow Redis through `reader` until stopped; a reader of the
        follower's own (see `_undecoding`) is closed when it ends."""
        try:
            await self._follow_rounds(reader)
        finally:
            if reader is not self._client:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self._timeout):
                        await reader.aclose()

    async def _follow_rounds(self, reader: Redis) -> None:
        attempt = 0
        while True:
            self._check_not_stopped()
            self._reached = False
            try:
                await self._follow(reader)
            except _OutOfStepError as doubt:
                log.debug(
                    "aiohttp_guard: %s: rebuilding its copy: %s",
                    self._times.label,
                    doubt,
                )
            except Exception as exc:  # any failure is a doubt
                if _being_cancelled():
                    # A cancellation that a timeout turned into its own error.
                    raise asyncio.CancelledError from exc
                self._lost(exc)
            finally:
                self._trusted_until = 0.0
            # At once after a doubt that followed trust; backing off while
            # Redis fails (or doubts come before trust does).
            attempt = 0 if self._reached else attempt + 1
            if attempt:
                await asyncio.sleep(
                    min(_LONGEST_BACKOFF, _FIRST_BACKOFF * 2 ** (attempt - 1))
                )

    async def _follow(self, reader: Redis) -> None:
        pubsub: PubSub = reader.pubsub()  # pyright: ignore[reportUnknownMemberType]
        try:
            await self._rebuild(reader, pubsub)
            await self._keep_up(pubsub)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _rebuild(self, reader: Redis, pubsub: PubSub) -> None:
        """Subscribe, then copy the map: what is published from then on is
        read after the copy, so nothing falls in between."""
        times = self._times
        async with asyncio.timeout(self._timeout):
            await pubsub.subscribe(times.channel)
            while True:
                message = await _next_message(pubsub, self._timeout)
                if message is not None and message[0] == b"subscribe":
                    break
            state = await times.state()
        entries: dict[str, _Kept] = {}
        async for entry in times.entries(reader, self._timeout):
            self._merge(entries, entry.name, entry.time, entry.ms_left)
        self._check_not_stopped()  # a follower stopped meanwhile keeps out
        self._entries, self._epoch, self._last = entries, state.epoch, state.revisions

    async def _keep_up(self, pubsub: PubSub) -> None:
        """Apply what is published; every interval, check that nothing was
        missed and extend the lease."""
        ping: tuple[bytes, float, State] | None = None  # token, when read, state
        number = 0
        next_check = 0.0
        while True:
            self._check_not_stopped()
            now = _now()
            if ping is None and now >= next_check:
                read_at = now
                async with asyncio.timeout(self._timeout):
                    state = await self._times.state()
                if state.epoch != self._epoch or state.revisions < self._last:
                    self._epoch = max(self._epoch, state.epoch)
                    raise _OutOfStepError(
                        "the map's epoch moved, or its count went back"
                    )
                number += 1
                token = b"%d" % number
                await pubsub.ping(token)  # pyright: ignore[reportUnknownMemberType]
                ping = (token, read_at, state)
                next_check = read_at + self._interval
                self._prune(now)
            if ping is not None and now - ping[1] > self._timeout:
                raise TimeoutError("no answer to the subscription's ping")
            wait = next_check - now if ping is None else ping[1] + self._timeout - now
            message = await _next_message(pubsub, max(wait, 0.001))
            if message is None:
                continue
            kind, data = message
            if kind == b"message":
                self._apply(data)
            elif kind == b"subscribe":
                # The client reconnected on its own: messages may be lost.
                raise _OutOfStepError("the subscription was made again")
            elif kind == b"pong" and ping is not None and data == ping[0]:
                _, read_at, state = ping
                if self._last < state.revisions:
                    raise _OutOfStepError(
                        f"revision {state.revisions} was not published here"
                    )
                self._check_not_stopped()
                self._trusted_until = read_at + self.max_lag
                self._reached = True
                ping = None
                if self._failing:
                    self._failing = False
                    audit(
                        "store",
                        logging.INFO,
                        f"aiohttp_guard: {self._times.label} follows Redis again: "
                        "look-ups are answered from memory",
                        store=self._times.label,
                        state="mirrored",
                    )

    def _check_not_stopped(self) -> None:
        """Raise CancelledError once `stop` was called or the task cancelled:
        redis-py may swallow a cancellation that reaches it while it reads
        (its retries take the TimeoutError that asyncio.timeout makes of it,
        on Python 3.11), so the loop also looks, at least once a timeout."""
        if _being_cancelled() or self._task is not asyncio.current_task():
            raise asyncio.CancelledError

    def _apply(self, data: bytes) -> None:
        """Take in one published change; anything unexpected is a doubt."""
        kind, _, rest = data.partition(b" ")
        try:
            if kind == b"e":
                self._epoch = max(self._epoch, int(rest))
                raise _OutOfStepError("a new epoch: Redis lost data")
            if kind != b"r":
                raise ValueError(kind)
            revision, held, left, key = rest.split(b" ", 3)
            number, time_ms, ms_left = int(revision), int(held), int(left)
        except ValueError:
            raise _OutOfStepError(f"an unreadable message: {data[:80]!r}") from None
        name = self._times.name_of(key)
        if name is None:
            raise _OutOfStepError(f"a message about another key: {key[:80]!r}")
        if number > self._last + 1:
            raise _OutOfStepError(
                f"revision {number} after {self._last}: a message was lost"
            )
        self._merge(self._entries, name, time_ms, None if ms_left < 0 else ms_left)
        self._last = max(self._last, number)

    @staticmethod
    def _merge(
        entries: dict[str, _Kept], name: str, time_ms: int | None, ms_left: int | None
    ) -> None:
        """Keep the later time and the later end; an unreadable time (None)
        stays unreadable, so that its name is always asked of Redis."""
        deadline = float("inf") if ms_left is None else _now() + ms_left / 1000
        kept = entries.get(name)
        if kept is not None:
            held, until = kept
            time_ms = None if held is None or time_ms is None else max(held, time_ms)
            deadline = max(deadline, until)
        entries[name] = (time_ms, deadline)

    def _prune(self, now: float) -> None:
        """Forget expired entries, now and then."""
        entries = self._entries
        if len(entries) < _PRUNE_ABOVE or now - self._pruned_at < _PRUNE_EVERY:
            return
        self._pruned_at = now
        for name in [name for name, (_, until) in entries.items() if until <= now]:
            del entries[name]

    def _lost(self, exc: BaseException) -> None:
        if self._failing:
            return
        self._failing = True
        audit(
            "store",
            logging.INFO,
            f"aiohttp_guard: {self._times.label} lost its copy of Redis "
            f"({exc!r}): asking Redis on every look-up until it has it again",
            store=self._times.label,
            state="unmirrored",
            error=type(exc).__name__,
        )


def _undecoding(client: Redis) -> Redis:
    """`client`, or, when it decodes responses, a client of the same server
    that does not (a pool of its own, one connection in use)."""
    from redis.asyncio import (  # noqa: PLC0415 - an optional extra, here installed
        BlockingConnectionPool,
        ConnectionPool,
        Redis,
    )

    pool = client.connection_pool
    settings: dict[str, Any] = dict(pool.connection_kwargs)
    if not settings.get("decode_responses") or type(pool) not in {
        ConnectionPool,
        BlockingConnectionPool,
    }:
        return client
    settings["decode_responses"] = False
    # from_pool: closing the client closes its pool too.
    return Redis.from_pool(
        ConnectionPool(
            connection_class=pool.connection_class, max_connections=4, **settings
        )
    )


def _boot_clock() -> Callable[[], float]:
    """Seconds on a clock that goes on while the machine is suspended
    (CLOCK_BOOTTIME, on Linux): a lease must run out in real time, even
    across a suspended or paused machine. Elsewhere, time.monotonic."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is None:
        return time.monotonic
    return functools.partial(time.clock_gettime, boottime)


_now: Final = _boot_clock()

_FIRST_BACKOFF: Final = 0.05
_LONGEST_BACKOFF: Final = 2.0
#: Entries below which expired ones are not worth a sweep, and seconds
#: between sweeps.
_PRUNE_ABOVE: Final = 1024
_PRUNE_EVERY: Final = 10.0


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _next_message(pubsub: PubSub, wait: float) -> tuple[bytes, bytes] | None:
    """The kind and data of what the subscription reads next within `wait`
    seconds. Read raw: over RESP3 (redis-py's default since 8) a PING on a
    subscription is answered with its bare message, which redis-py's own
    message handling cannot parse when it decodes responses."""
    response = cast(
        "object",
        await pubsub.parse_response(block=False, timeout=wait),  # pyright: ignore[reportUnknownMemberType]
    )
    if response is None:
        return None
    if isinstance(response, bytes | str):
        return b"pong", as_bytes(response)
    items = cast("list[object]", response) if isinstance(response, list) else []
    parts = [as_bytes(item) if isinstance(item, bytes | str) else b"" for item in items]
    kind = parts[0].lower() if parts else b""
    if kind == b"pong":
        return kind, parts[1] if len(parts) > 1 else b""
    return kind, parts[-1]
