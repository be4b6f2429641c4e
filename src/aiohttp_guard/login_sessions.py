"""Login sessions: every login is a session its user can see and end alone.

`AuthService.remember` starts a session with a random id that the ticket
carries (renewals keep it). A registry keeps one record per session (when
and from where it started, when it was last seen) for the user's "your
devices" page, and the sessions that were ended, which the service checks
on every request the way it checks `logout_everywhere`: an ended session's
tickets are refused on every instance sharing the registry.

`MemorySessionRegistry` serves one process; `RedisSessionRegistry`
(`redis_sessions`) several instances.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

import attrs
from aiohttp import web

from .revocation import MemoryRevocationStore, RevocationStore

__all__ = [
    "EARLIER_LOGINS",
    "MAX_USER_AGENT",
    "LoginSession",
    "MemorySessionRegistry",
    "SessionRegistry",
    "SessionsUnavailable",
]

#: The id of the one entry that stands for a user's logins made without a
#: session id (before sessions existed, or by a policy that carries none).
EARLIER_LOGINS: Final = "earlier"
#: User agents are kept truncated to this many characters.
MAX_USER_AGENT: Final = 256
_SWEEP_EVERY: Final = 256


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@attrs.frozen
class LoginSession:
    """One login of a user, as their "your devices" page shows it.

    Args:
        id: The session's random id (`EARLIER_LOGINS` for the entry that
            stands for logins made without one).
        user_id: Whose session it is.
        created_ms: When the user logged in, in ms since the epoch.
        last_seen_ms: When a request of the session was last seen (at most
            `last_seen_interval` seconds out of date).
        address: The client's address at last sight, if known.
        login_address: The client's address at login, if known.
        user_agent: The client's User-Agent at login, truncated to
            `MAX_USER_AGENT` characters.
        policy: How the session's credential travels: "cookie", "session"
            or "bearer" (an API token).
    """

    id: str
    user_id: str
    created_ms: int
    last_seen_ms: int
    address: str | None = None
    login_address: str | None = None
    user_agent: str = ""
    policy: str = ""

    @property
    def created(self) -> datetime:
        """When the user logged in (aware, UTC)."""
        return _datetime(self.created_ms)

    @property
    def last_seen(self) -> datetime:
        """When a request of the session was last seen (aware, UTC)."""
        return _datetime(self.last_seen_ms)

    @property
    def earlier_logins(self) -> bool:
        """Whether this entry stands for the user's logins made without a
        session id, rather than for one session."""
        return self.id == EARLIER_LOGINS


class SessionsUnavailable(web.HTTPServiceUnavailable):
    """The session registry did not answer: raised by `AuthService.sessions`,
    `current_session`, `end_session` and `end_other_sessions`. Left to
    aiohttp by a handler, it is a 503 (the store's error is its cause)."""

    def __init__(self) -> None:
        super().__init__(
            text="The login sessions cannot be read or ended right now: "
            "the session registry does not answer.",
            headers={"Retry-After": "5"},
        )


class SessionRegistry(abc.ABC):
    """Where login sessions are recorded. Methods may raise when the store
    cannot be reached: the service then refuses the requests that need it
    (503), and its listing and ending methods raise.

    Args:
        last_seen_interval: A session's `last_seen` is written at most this
            often, in seconds, so that a busy client costs no write per
            request. Default: 300.
        max_sessions: The most sessions a user keeps: a login beyond it ends
            the least recently seen one. Default: 50.
    """

    def __init__(
        self, *, last_seen_interval: float = 300.0, max_sessions: int = 50
    ) -> None:
        if last_seen_interval < 0:
            raise ValueError("last_seen_interval must not be negative")
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.last_seen_interval = last_seen_interval
        self.max_sessions = max_sessions

    @property
    @abc.abstractmethod
    def ends(self) -> RevocationStore:
        """Where ended sessions are kept, as not-before times keyed
        "s:<session id>" (and "e:<user id>" for the earlier logins)."""

    @abc.abstractmethod
    async def add(self, session: LoginSession, ttl: float | None) -> list[LoginSession]:
        """Record a new session, kept `ttl` seconds past its last sight
        (None: until ended); return the sessions of its user beyond
        `max_sessions`, least recently seen first, which it removed."""

    @abc.abstractmethod
    async def seen(self, session: LoginSession, ttl: float | None) -> None:
        """Record that `session` was seen at its `last_seen_ms` from its
        `address`: its record is updated, or made when it has none."""

    @abc.abstractmethod
    async def of_user(self, user_id: str) -> list[LoginSession]:
        """The user's recorded sessions, newest first."""

    @abc.abstractmethod
    async def remove(
        self, user_id: str, session_ids: Iterable[str] | None
    ) -> list[str]:
        """Remove the records of the user's sessions `session_ids` (None: all
        of them); return the ids that had one."""


class MemorySessionRegistry(SessionRegistry):
    """Login sessions in this process's memory: for a single instance.

    Args:
        last_seen_interval: See `SessionRegistry`. Default: 300.
        max_sessions: See `SessionRegistry`. Default: 50.
    """

    def __init__(
        self, *, last_seen_interval: float = 300.0, max_sessions: int = 50
    ) -> None:
        super().__init__(
            last_seen_interval=last_seen_interval, max_sessions=max_sessions
        )
        self._ends = MemoryRevocationStore()
        # user id -> session id -> `_Row`
        self._records: dict[str, dict[str, _Row]] = {}
        self._adds = 0

    def __repr__(self) -> str:
        return f"MemorySessionRegistry({len(self._records)} users)"

    @property
    def ends(self) -> MemoryRevocationStore:
        return self._ends

    def _live(self, user_id: str) -> dict[str, _Row]:
        """The user's records, the expired ones dropped."""
        records = self._records.get(user_id)
        if records is None:
            return {}
        now = time.monotonic()
        for session_id in [s for s, row in records.items() if row[_EXPIRY] <= now]:
            del records[session_id]
        if not records:
            del self._records[user_id]
        return records

    def _sweep(self) -> None:
        """Drop every expired record: users who never come back leave none
        behind. Every `_SWEEP_EVERY` logins, so its cost is spread thin."""
        for user_id in list(self._records):
            self._live(user_id)

    async def add(self, session: LoginSession, ttl: float | None) -> list[LoginSession]:
        self._adds += 1
        if self._adds % _SWEEP_EVERY == 0:
            self._sweep()
        records = self._live(session.user_id)
        self._records[session.user_id] = records
        records[session.id] = _row(session, _expiry(ttl))
        excess = len(records) - self.max_sessions
        if excess <= 0:
            return []
        oldest = sorted(
            (_session(row) for row in records.values() if row[_ID] != session.id),
            key=lambda record: record.last_seen_ms,
        )[:excess]
        for record in oldest:
            del records[record.id]
        return oldest

    async def seen(self, session: LoginSession, ttl: float | None) -> None:
        records = self._live(session.user_id)
        self._records[session.user_id] = records
        # Moved to the end: the records' order is that of their last sight,
        # which breaks ties between times of the same millisecond.
        known = records.pop(session.id, None)
        if known is not None:
            session = attrs.evolve(
                _session(known),
                last_seen_ms=session.last_seen_ms,
                address=session.address,
            )
        records[session.id] = _row(session, _expiry(ttl))

    async def of_user(self, user_id: str) -> list[LoginSession]:
        records = self._live(user_id)
        # Newest first, logins of the same millisecond too.
        started = reversed([_session(row) for row in records.values()])
        return sorted(started, key=lambda record: record.created_ms, reverse=True)

    async def remove(
        self, user_id: str, session_ids: Iterable[str] | None
    ) -> list[str]:
        records = self._live(user_id)
        ids = list(records) if session_ids is None else list(session_ids)
        removed = [session_id for session_id in ids if records.pop(session_id, None)]
        if not records:
            self._records.pop(user_id, None)
        return removed


#: A record as `MemorySessionRegistry` keeps it: the `LoginSession`'s
#: fields in order, then its expiry on the monotonic clock. A tuple of
#: strings and numbers, which the garbage collector stops tracking, where a
#: `LoginSession` object stays tracked: 100,000 users' records made every
#: full collection 85 ms instead of 22, and the many-users benchmark's p99
#: 50-70 ms (benchmarks.http, 2026-12-01).
_Row: TypeAlias = tuple[Any, ...]
_ID: Final = 0
_EXPIRY: Final = -1


def _row(session: LoginSession, expiry: float) -> _Row:
    return (*attrs.astuple(session, recurse=False), expiry)


def _session(row: _Row) -> LoginSession:
    return LoginSession(*row[:_EXPIRY])


def _expiry(ttl: float | None) -> float:
    return float("inf") if ttl is None else time.monotonic() + ttl
