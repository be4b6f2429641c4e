"""Revocation: "log out everywhere" as a per-user *not before* time.

A ticket issued before its user's not-before time is refused, wherever it is
presented. Entries only need to live as long as a ticket issued before them
could: the service passes that lifetime as `ttl`, and stores forget entries
after it, never before an earlier revocation's `ttl` (services with different
ticket lifetimes may share a store).

`MemoryRevocationStore` serves one process; `RedisRevocationStore` shares the
times between every instance of an app through Redis (`redis.asyncio`),
answers look-ups from a copy in memory that Redis keeps current, and fails
closed when Redis loses them.
"""

from __future__ import annotations

import asyncio
import enum
import time
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeAlias

from ._redis_times import RedisTimes
from ._times_mirror import TimesMirror

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "Known",
    "MemoryRevocationStore",
    "RedisRevocationStore",
    "RevocationStore",
    "Unknown",
]

DEFAULT_PREFIX: Final = "aiohttp_guard:not_before:"
_FIRST_PURGE: Final = 64


class Unknown(enum.Enum):
    """What `known_not_before` answers when only the store's look-up can
    tell."""

    UNKNOWN = enum.auto()


#: A not-before time known without a look-up: a time, None for none, or
#: `Unknown.UNKNOWN` when the (awaited) look-up must be made.
Known: TypeAlias = int | Literal[Unknown.UNKNOWN] | None


class RevocationStore(Protocol):
    """Where not-before times are kept. Methods may raise when the store cannot
    be reached: the service then refuses identified requests (503).

    A store may also have an `async open()` method (not part of the protocol):
    the service calls it at app startup, logging a failure and going on; and
    an `async close()`, which the service calls at app cleanup.
    """

    async def not_before(self, user_id: str) -> int | None:
        """The user's not-before time in milliseconds since the epoch, if any."""
        ...

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        """Record `not_before_ms` for `user_id`, kept for `ttl` seconds (None:
        for good).

        An entry the user already has is never lowered nor shortened: it keeps
        the later of the two times, and the longer of the two lives (services
        with different ticket lifetimes may share one store)."""
        ...


class MemoryRevocationStore:
    """Not-before times in this process's memory: for a single instance."""

    __slots__ = ("_entries", "_purge_at")

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, float]] = {}
        # Expired entries are dropped when the store has doubled since the
        # last time: a write then costs a constant time on average, where a
        # scan per write cost 7 ms at 100,000 entries.
        self._purge_at = _FIRST_PURGE

    def __repr__(self) -> str:
        return f"MemoryRevocationStore({len(self._entries)} entries)"

    def __len__(self) -> int:
        """How many users have a not-before time (expired ones included until
        the next write)."""
        return len(self._entries)

    def __contains__(self, user_id: object) -> bool:
        """Whether `user_id` may have a not-before time (an expired one is
        dropped by the next look-up)."""
        return user_id in self._entries

    async def not_before(self, user_id: str) -> int | None:
        return self.known_not_before(user_id)

    def known_not_before(self, user_id: str) -> int | None:
        """`not_before`, without a coroutine: this store always knows."""
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        not_before, expires = entry
        if time.monotonic() >= expires:
            del self._entries[user_id]
            return None
        return not_before

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        now = time.monotonic()
        if len(self._entries) >= self._purge_at:
            for user, (_, expires) in list(self._entries.items()):
                if now >= expires:
                    del self._entries[user]
            self._purge_at = max(_FIRST_PURGE, 2 * len(self._entries))
        expires = float("inf") if ttl is None else now + ttl
        kept = self._entries.get(user_id)
        if kept is not None:  # never lowered, never shortened
            not_before_ms, expires = max(not_before_ms, kept[0]), max(expires, kept[1])
        self._entries[user_id] = (not_before_ms, expires)


class RedisRevocationStore:
    """Not-before times in Redis, shared by every instance of the app, and
    copied into each instance's memory so that a look-up costs no round
    trip.

    Args:
        redis_client: A `redis.asyncio.Redis`.
        prefix: Users' keys are `prefix + user id`, and expire with their
            `ttl` (a revocation never shortens nor lowers an entry already
            there); the store's own keys and its pub/sub channel share the
            prefix. Default: "aiohttp_guard:not_before:".
        timeout: Seconds after which a call gives up, so that a Redis outage
            answers quickly (with a 503) instead of hanging requests.
            Default: 1.
        mirror: Keep a copy of the times in memory, current through Redis
            pub/sub, and answer look-ups from it (default). False: one round
            trip to Redis per look-up.
        max_lag: With `mirror`, how late (in seconds) a revocation made on
            another instance may be enforced here, at the latest: the copy is
            trusted only while a check made less than `max_lag` ago showed
            it complete (it checks four times per `max_lag`). Default: 0.1.

    How the copy stays current, and fails closed: every revocation is
    published, numbered, in the same atomic step that writes it. After
    `open()` (which the service calls at startup) each instance subscribes,
    then reads every entry, and from then on applies what is published. A
    message that skips a number, a lost connection, a subscription that
    stops answering, or Redis losing data makes the instance distrust its
    copy: look-ups go to Redis (a 503 when it does not answer, as without a
    copy) until it has subscribed again and read everything again. A
    revocation made on this instance is enforced here at once. Revocations
    written by a version of this library that does not publish them (during
    a rolling upgrade) are found by the same checks, within a second or so.

    A Redis that loses data (restarted without persistence, flushed, evicting
    keys, restored from an older copy) would silently forget revocations, so
    the store fails closed instead: beside the users' keys it keeps its
    *epoch*, the time from which its memory is complete, a count of the
    revocations written since, and a random fingerprint of each of the latest
    revisions. Every answer is at least the epoch. Each instance remembers the
    latest revision it saw and that revision's fingerprint; when the epoch is
    missing or went back, the count went back, or the revision this instance
    saw holds another fingerprint (lost, then counted again by later
    revocations), the store has lost data: it moves the epoch to now (one log
    line; instances that notice together agree on one value) and every ticket
    issued before is refused. An instance idle for longer than the kept
    fingerprints (65536 revocations) cannot check the revision it saw, and
    goes on from the current one. A look-up without the copy is one round
    trip (one script), and so is a revocation. `open()` also starts the
    epoch on an empty Redis before the first login; `close()` (which the
    service calls at cleanup) stops following Redis.
    """

    __slots__ = ("_mirror", "_prefix", "_timeout", "_times")

    def __init__(
        self,
        redis_client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
        mirror: bool = True,
        max_lag: float = 0.1,
    ) -> None:
        self._prefix = prefix
        self._timeout = timeout
        self._times = RedisTimes(redis_client, prefix, f"revocation store {self!r}")
        self._mirror = (
            TimesMirror(self._times, redis_client, max_lag=max_lag, timeout=timeout)
            if mirror
            else None
        )

    def __repr__(self) -> str:
        return f"RedisRevocationStore(prefix={self._prefix!r})"

    @property
    def mirrored(self) -> bool:
        """Whether look-ups are answered from the copy in memory right now
        (False without `mirror`, before `open()`, and while the copy is
        distrusted)."""
        return self._mirror is not None and self._mirror.trusted

    async def open(self) -> None:
        """Make sure Redis holds the store's epoch, starting it now when it
        holds none, and start following Redis (waiting up to `timeout` for
        the copy). The service calls this at app startup; calling it again
        does no harm, and a store never opened asks Redis on every look-up."""
        if self._mirror is not None:
            await self._mirror.start()
        if not self.mirrored:  # else its copy was just read, epoch included
            async with asyncio.timeout(self._timeout):
                await self._times.state()

    async def close(self) -> None:
        """Stop following Redis (the service calls this at app cleanup), for
        every user of the store: look-ups go to Redis from then on, and
        `open()` starts following again. The client is the caller's to
        close."""
        if self._mirror is not None:
            await self._mirror.stop()

    def known_not_before(self, user_id: str) -> int | Literal[Unknown.UNKNOWN]:
        """The user's not-before time (at least the epoch) from the copy in
        memory, or `Unknown.UNKNOWN` when the copy is not trusted now."""
        mirror = self._mirror
        known = None if mirror is None else mirror.known(user_id)
        return Unknown.UNKNOWN if known is None else known

    async def not_before(self, user_id: str) -> int:
        known = self.known_not_before(user_id)
        if known is not Unknown.UNKNOWN:
            return known
        async with asyncio.timeout(self._timeout):
            return await self._times.read(user_id)

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        async with asyncio.timeout(self._timeout):
            written = await self._times.write(user_id, not_before_ms, ttl)
        if self._mirror is not None:
            self._mirror.learn(user_id, written.time, written.ms_left)
