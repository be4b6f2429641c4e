"""Revocation: "log out everywhere" as a per-user *not before* time.

A ticket issued before its user's not-before time is refused, wherever it is
presented. Entries only need to live as long as a ticket issued before them
could: the service passes that lifetime as `ttl`, and stores forget entries
after it.

`MemoryRevocationStore` serves one process; `RedisRevocationStore` shares the
times between every instance of an app through Redis (`redis.asyncio`), and
fails closed when Redis loses them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, cast

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["MemoryRevocationStore", "RedisRevocationStore", "RevocationStore"]

DEFAULT_PREFIX: Final = "aiohttp_guard:not_before:"

log = logging.getLogger("aiohttp_guard")


class RevocationStore(Protocol):
    """Where not-before times are kept. Methods may raise when the store cannot
    be reached: the service then refuses identified requests (503).

    A store may also have an `async open()` method (not part of the protocol):
    the service calls it at app startup, logging a failure and going on.
    """

    async def not_before(self, user_id: str) -> int | None:
        """The user's not-before time in milliseconds since the epoch, if any."""
        ...

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        """Record `not_before_ms` for `user_id`, kept for `ttl` seconds (None:
        for good)."""
        ...


class MemoryRevocationStore:
    """Not-before times in this process's memory: for a single instance."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, float]] = {}

    def __repr__(self) -> str:
        return f"MemoryRevocationStore({len(self._entries)} entries)"

    def __len__(self) -> int:
        """How many users have a not-before time (expired ones included until
        the next write): the service skips the look-up when there are none."""
        return len(self._entries)

    async def not_before(self, user_id: str) -> int | None:
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
        for user, (_, expires) in list(self._entries.items()):
            if now >= expires:
                del self._entries[user]
        expires = float("inf") if ttl is None else now + ttl
        self._entries[user_id] = (not_before_ms, expires)


class RedisRevocationStore:
    """Not-before times in Redis, shared by every instance of the app.

    `redis_client` is a `redis.asyncio.Redis`; users' keys are `prefix + user
    id` and expire with their `ttl`. Each call gives up after `timeout`
    seconds, so a Redis outage answers quickly (with a 503) instead of hanging
    requests.

    A Redis that loses data (restarted without persistence, flushed, evicting
    keys, restored from an older copy) would silently forget revocations, so
    the store fails closed instead: beside the users' keys it keeps its
    *epoch*, the time from which its memory is complete, and a count of the
    revocations written since. Every answer is at least the epoch. When the
    epoch is missing, or the count or the epoch went back below what this
    instance saw, the store has lost data: it moves the epoch to now (one log
    line; instances that notice together agree on one value) and every ticket
    issued before is refused. `open()`, which the service calls at startup,
    starts the epoch on an empty Redis before the first login.
    """

    __slots__ = (
        "_epoch_key",
        "_move_epoch",
        "_prefix",
        "_redis",
        "_revisions_key",
        "_seen",
        "_timeout",
    )

    def __init__(
        self,
        redis_client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
    ) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._timeout = timeout
        encoded_prefix = prefix.encode("utf-8", "surrogatepass")
        self._epoch_key = encoded_prefix + _EPOCH_SUFFIX
        self._revisions_key = encoded_prefix + _REVISIONS_SUFFIX
        self._move_epoch = redis_client.register_script(_MOVE_EPOCH)
        # The highest (epoch, revision count) this instance has seen: Redis
        # showing less has lost writes. None until the first answer.
        self._seen: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"RedisRevocationStore(prefix={self._prefix!r})"

    def _key(self, user_id: str) -> bytes:
        return (self._prefix + user_id).encode("utf-8", "surrogatepass")

    async def open(self) -> None:
        """Make sure Redis holds the store's epoch, starting it now when it
        holds none. The service calls this at app startup; calling it again
        does no harm, and a store never opened opens on first use."""
        seen = self._seen
        async with asyncio.timeout(self._timeout):
            epoch, revisions = await self._redis.mget(
                self._epoch_key, self._revisions_key
            )
            await self._check(seen, epoch, revisions)

    async def not_before(self, user_id: str) -> int:
        # What this instance knew before asking is what the answer must not
        # fall below: it was written before the question was sent.
        seen = self._seen
        async with asyncio.timeout(self._timeout):
            entry, epoch, revisions = await self._redis.mget(
                self._key(user_id), self._epoch_key, self._revisions_key
            )
            start = await self._check(seen, epoch, revisions)
        return start if entry is None else max(start, int(entry))

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        px = None if ttl is None else max(1, round(ttl * 1000))
        seen = self._seen
        async with asyncio.timeout(self._timeout):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._key(user_id), str(not_before_ms), px=px)
                pipe.incr(self._revisions_key)
                pipe.get(self._epoch_key)
                results = await pipe.execute()
            await self._check(seen, results[2], results[1])

    async def _check(
        self, seen: tuple[int, int] | None, epoch: _Reply, revisions: _Reply | int
    ) -> int:
        """The epoch, from an answer of Redis's that is no older than `seen`;
        after a loss, a new epoch from now on."""
        count = 0 if revisions is None else int(revisions)
        if epoch is None:
            return await self._new_epoch(seen, None, count)
        state = (int(epoch), count)
        if seen is not None and state < seen:
            return await self._new_epoch(seen, epoch, count)
        self._learn(state)
        return state[0]

    def _learn(self, state: tuple[int, int]) -> None:
        if self._seen is None or state > self._seen:
            self._seen = state

    async def _new_epoch(
        self, seen: tuple[int, int] | None, epoch: _Reply, count: int
    ) -> int:
        """Move the epoch to now, unless another instance just did: whoever
        changes it first decides, and only they log it."""
        expected = b"" if epoch is None else _as_bytes(epoch)
        # Never back: an epoch set by a clock ahead of this one stays.
        floor = 0 if seen is None else seen[0] + 1
        for _ in range(_NEW_EPOCH_ATTEMPTS):
            if expected:
                floor = max(floor, int(expected) + 1)
            # As in logout_everywhere, tickets issued in this very millisecond
            # are refused too: the epoch is the next one.
            proposal = max(int(time.time() * 1000) + 1, floor)
            reply = await self._move_epoch(
                keys=[self._epoch_key], args=[expected, proposal]
            )
            moved, held = cast("tuple[int, bytes | str]", reply)
            current = _as_bytes(held)
            if moved:
                _log_new_epoch(self, seen, expected, proposal)
                self._learn((proposal, count))
                # ...and this returns once it has come, so that a login right
                # after (or the rest of a logout_everywhere) is not refused.
                wait = proposal / 1000 - time.time()
                if 0 < wait <= _LONGEST_WAIT:
                    await asyncio.sleep(wait)
                return proposal
            if current:  # another instance moved it: theirs counts
                self._learn((int(current), 0))
                return int(current)
            expected = current
        raise RuntimeError(f"the epoch of {self!r} keeps changing")


_Reply: TypeAlias = bytes | str | None

# Suffixes no user id produces (the byte 0xFF never occurs in UTF-8), so the
# store's own keys share the users' prefix without clashing with any of them.
_EPOCH_SUFFIX: Final = b"\xffepoch"
_REVISIONS_SUFFIX: Final = b"\xffrevisions"

_NEW_EPOCH_ATTEMPTS: Final = 3
#: How long a new epoch may be ahead of this clock for the store to wait for it.
_LONGEST_WAIT: Final = 0.01

# Compare and set: the epoch becomes ARGV[2] only if it still reads ARGV[1]
# ("" for missing); the answer says whether it did, and the value now held.
_MOVE_EPOCH: Final = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then
  return {0, current}
end
redis.call('SET', KEYS[1], ARGV[2])
return {1, ARGV[2]}
"""


def _as_bytes(value: bytes | str) -> bytes:
    """A reply as bytes, whether or not the client decodes responses."""
    return value if isinstance(value, bytes) else value.encode()


def _log_new_epoch(
    store: RedisRevocationStore,
    seen: tuple[int, int] | None,
    found: bytes,
    epoch_ms: int,
) -> None:
    since = datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(
        timespec="milliseconds"
    )
    if seen is None:
        log.warning(
            "aiohttp_guard: revocation store %r found no record of its epoch in "
            "Redis (a new Redis, one used by an earlier version, or one that "
            "lost its data): refusing every ticket issued before %s",
            store,
            since,
        )
        return
    why = (
        "its epoch key is gone: Redis restarted without persistence, was "
        "flushed, or evicted it"
        if not found
        else "it holds less than this instance saw: Redis restarted from an "
        "older copy, or lost recent writes"
    )
    log.error(
        "aiohttp_guard: revocation store %r lost data (%s): refusing every ticket "
        "issued before %s, users log in again",
        store,
        why,
        since,
    )
