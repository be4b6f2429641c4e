"""Revocation: "log out everywhere" as a per-user *not before* time.

A ticket issued before its user's not-before time is refused, wherever it is
presented. Entries only need to live as long as a ticket issued before them
could: the service passes that lifetime as `ttl`, and stores forget entries
after it.

`MemoryRevocationStore` serves one process; `RedisRevocationStore` shares the
times between every instance of an app through Redis (`redis.asyncio`).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["MemoryRevocationStore", "RedisRevocationStore", "RevocationStore"]

DEFAULT_PREFIX: Final = "aiohttp_guard:not_before:"


class RevocationStore(Protocol):
    """Where not-before times are kept. Methods may raise when the store cannot
    be reached: the service then refuses identified requests (503)."""

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

    `redis_client` is a `redis.asyncio.Redis`; keys are `prefix + user id` and
    expire with their `ttl`. Each call gives up after `timeout` seconds, so a
    Redis outage answers quickly (with a 503) instead of hanging requests.
    """

    __slots__ = ("_prefix", "_redis", "_timeout")

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

    def __repr__(self) -> str:
        return f"RedisRevocationStore(prefix={self._prefix!r})"

    def _key(self, user_id: str) -> bytes:
        return (self._prefix + user_id).encode("utf-8", "surrogatepass")

    async def not_before(self, user_id: str) -> int | None:
        async with asyncio.timeout(self._timeout):
            value = await self._redis.get(self._key(user_id))
        return None if value is None else int(value)

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        px = None if ttl is None else max(1, round(ttl * 1000))
        async with asyncio.timeout(self._timeout):
            await self._redis.set(self._key(user_id), str(not_before_ms), px=px)
