"""`RedisSessionRegistry`: login sessions shared by every instance of an app
through Redis.

The records (the "your devices" list) are a hash per user, changed by one
Lua script per operation (`_redis_session_scripts`). Ended sessions are kept
in a `RedisRevocationStore` of the registry's own, so that checking a
session on each request costs no round trip (its copy in memory is kept
current by Redis pub/sub), an end reaches every instance within `max_lag`,
and a Redis that loses its data fails closed: every ticket issued before is
refused, as for revocations.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from ._redis_session_scripts import ADD, REMOVE, SEEN
from ._redis_times import as_bytes
from .login_sessions import EARLIER_LOGINS, LoginSession, SessionRegistry
from .revocation import RedisRevocationStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisSessionRegistry"]

DEFAULT_PREFIX: Final = "aiohttp_guard:sessions:"


class RedisSessionRegistry(SessionRegistry):
    """Login sessions in Redis, for several instances of an app.

    Args:
        redis_client: A `redis.asyncio.Redis`.
        prefix: A user's records are the hash `prefix + "u:" + user id`;
            ended sessions are a `RedisRevocationStore` under `prefix +
            "ended:"`. Default: "aiohttp_guard:sessions:".
        timeout: Seconds after which a call gives up, so that a Redis outage
            answers quickly (503) instead of hanging requests. Default: 1.
        last_seen_interval: See `SessionRegistry`. Default: 300.
        max_sessions: See `SessionRegistry`. Default: 50.
        mirror: Check ended sessions from a copy in memory kept current by
            Redis pub/sub (default); False: one round trip per request.
        max_lag: With `mirror`, how late (seconds) an end made on another
            instance may be enforced here, at the latest. Default: 0.1.

    `open()` and `close()` start and stop following Redis; the service
    calls them at app startup and cleanup. Like a new `RedisRevocationStore`,
    a registry whose Redis holds none of its keys yet (its first start, or a
    Redis that lost them) refuses every ticket issued before that moment.
    """

    def __init__(
        self,
        redis_client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
        last_seen_interval: float = 300.0,
        max_sessions: int = 50,
        mirror: bool = True,
        max_lag: float = 0.1,
    ) -> None:
        super().__init__(
            last_seen_interval=last_seen_interval, max_sessions=max_sessions
        )
        self._prefix = prefix
        self._records_prefix = (prefix + "u:").encode("utf-8", "surrogatepass")
        self._timeout = timeout
        self._ends = RedisRevocationStore(
            redis_client,
            prefix=prefix + "ended:",
            timeout=timeout,
            mirror=mirror,
            max_lag=max_lag,
        )
        self._ended_prefix = (prefix + "ended:").encode("utf-8", "surrogatepass")
        self._redis = redis_client
        self._add = redis_client.register_script(ADD)
        self._seen = redis_client.register_script(SEEN)
        self._remove = redis_client.register_script(REMOVE)

    def __repr__(self) -> str:
        return f"RedisSessionRegistry(prefix={self._prefix!r})"

    @property
    def ends(self) -> RedisRevocationStore:
        return self._ends

    @property
    def mirrored(self) -> bool:
        """Whether ended sessions are checked from the copy in memory right
        now (see `RedisRevocationStore.mirrored`)."""
        return self._ends.mirrored

    async def open(self) -> None:
        """Start following Redis (see `RedisRevocationStore.open`)."""
        await self._ends.open()

    async def close(self) -> None:
        """Stop following Redis; the client is the caller's to close."""
        await self._ends.close()

    def _records_key(self, user_id: str) -> bytes:
        return self._records_prefix + user_id.encode("utf-8", "surrogatepass")

    async def add(self, session: LoginSession, ttl: float | None) -> list[LoginSession]:
        now = _now_ms()
        async with asyncio.timeout(self._timeout):
            evicted = await self._add(
                keys=[self._records_key(session.user_id)],
                args=[
                    session.id,
                    _encode(session, _expiry(now, ttl)),
                    now,
                    self.max_sessions,
                ],
            )
        found = [_decode(session.user_id, "", as_bytes(item)) for item in evicted or ()]
        return [record[1] for record in found if record is not None]

    async def seen(self, session: LoginSession, ttl: float | None) -> None:
        now = _now_ms()
        expiry = _expiry(now, ttl)
        ended_key = self._ended_prefix + (
            ("s:" + session.id).encode("utf-8", "surrogatepass")
        )
        async with asyncio.timeout(self._timeout):
            await self._seen(
                keys=[self._records_key(session.user_id), ended_key],
                args=[
                    session.id,
                    _encode(session, expiry),
                    session.last_seen_ms,
                    session.address or "",
                    "" if expiry is None else expiry,
                    "0" if session.id == EARLIER_LOGINS else "1",
                    now,
                ],
            )

    async def of_user(self, user_id: str) -> list[LoginSession]:
        async with asyncio.timeout(self._timeout):
            found: dict[Any, Any] = await self._redis.hgetall(  # pyright: ignore[reportUnknownMemberType]
                self._records_key(user_id)
            )
        now = _now_ms()
        sessions: list[tuple[int, LoginSession]] = []
        for raw_id, raw in found.items():
            session_id = as_bytes(raw_id).decode("utf-8", "replace")
            record = _decode(user_id, session_id, as_bytes(raw), now)
            if record is not None:
                sessions.append(record)
        sessions.sort(key=lambda item: (item[1].created_ms, item[0]), reverse=True)
        return [session for _, session in sessions]

    async def remove(
        self, user_id: str, session_ids: Iterable[str] | None
    ) -> list[str]:
        ids = [] if session_ids is None else list(session_ids)
        if session_ids is not None and not ids:
            return []
        async with asyncio.timeout(self._timeout):
            removed = await self._remove(keys=[self._records_key(user_id)], args=ids)
        return [
            as_bytes(item).decode("utf-8", "surrogatepass") for item in removed or ()
        ]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _expiry(now: int, ttl: float | None) -> int | None:
    return None if ttl is None else now + round(ttl * 1000)


def _encode(session: LoginSession, expiry: int | None) -> str:
    return json.dumps(
        {
            "id": session.id,
            "c": session.created_ms,
            "s": session.last_seen_ms,
            "a": session.address,
            "la": session.login_address,
            "ua": session.user_agent,
            "p": session.policy,
            "x": expiry,
            # Orders the logins of one millisecond, newest first; text, which
            # Lua's JSON keeps exact.
            "t": str(time.time_ns()),
        },
        separators=(",", ":"),
        ensure_ascii=False,  # text as UTF-8, which Lua's JSON keeps as it is
    )


def _decode(
    user_id: str, session_id: str, raw: bytes, now: int | None = None
) -> tuple[int, LoginSession] | None:
    """When a record was made (ns, 0 when it does not say) and the session
    it holds, or None when it is unreadable or, given `now`, expired."""
    try:
        record = json.loads(raw)
        expiry = record.get("x")
        if now is not None and isinstance(expiry, int) and expiry <= now:
            return None
        made = record.get("t")
        made_ns = int(made) if isinstance(made, str) and made.isdigit() else 0
        session = LoginSession(
            str(record.get("id") or session_id),
            user_id,
            int(record["c"]),
            int(record["s"]),
            _text_or_none(record.get("a")),
            _text_or_none(record.get("la")),
            str(record.get("ua") or ""),
            str(record.get("p") or ""),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return made_ns, session


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
