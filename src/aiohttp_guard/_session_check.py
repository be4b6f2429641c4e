"""The service's use of its session registry: start, check, see and end
login sessions.

Ending a session is a revocation keyed by its id, in the registry's `ends`
store, kept as long as the service keeps revocations: every ticket carrying
that id is refused, whatever its times, on every instance sharing the
store. Checking one costs what checking `logout_everywhere` costs: a
look-up in memory, for a Redis registry too (its copy kept current by
pub/sub). The earlier logins' entry (tickets without a session id) ends
like `logout_everywhere` does, for those tickets alone.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from typing import Final

from aiohttp import hdrs, web

from ._fifo_cache import FifoCache
from ._revocation_check import RevocationCheck, known_not_before
from .audit import audit
from .identity import Identity
from .login_sessions import (
    EARLIER_LOGINS,
    MAX_USER_AGENT,
    LoginSession,
    SessionRegistry,
)

__all__ = ["ENDED", "SessionCheck", "end_key", "new_session_id"]

log = logging.getLogger("aiohttp_guard")

#: The not-before time of an ended session: later than any ticket's times,
#: so that every ticket of the session is refused.
ENDED: Final = 2**53 - 1
#: Sessions whose last write this instance remembers, to write each at most
#: once per `last_seen_interval`: as many as may be active on one instance
#: within it. Beyond that, every request of the sessions forgotten wrote
#: again (a Redis round trip each with a shared registry); at 16,384, the
#: benchmark's 100,000 users did. About 26 MiB when full; only sessions of
#: valid tickets enter.
_WRITES_KEPT: Final = 2**17


def end_key(user_id: str, session_id: str | None) -> str:
    """The `ends` entry of a session: "s:<id>", or "e:<user id>" for the
    user's earlier logins (no session id)."""
    if session_id is None or session_id == EARLIER_LOGINS:
        return "e:" + user_id
    return "s:" + session_id


class SessionCheck:
    """A service's login sessions: its registry, the ends it checks, and the
    `last_seen` writes it spares the registry.

    Args:
        registry: Where sessions are recorded.
        ttl: How long an end is kept, in seconds: as long as a ticket issued
            before it can stay valid (None: for good).
        record_ttl: How long a record is kept after its last write, in
            seconds (None: until ended).
    """

    def __init__(
        self, registry: SessionRegistry, ttl: float | None, record_ttl: float | None
    ) -> None:
        self.registry = registry
        self.ends = RevocationCheck(registry.ends, ttl)
        self.record_ttl = record_ttl
        # Keyed by `end_key`: when this instance last wrote the session's
        # last sight, on the monotonic clock.
        self._written: FifoCache[str, float] = FifoCache(_WRITES_KEPT)
        # The store's answer without a look-up, for the usual case (a
        # session never ended) in one call: 0.3 us less per request than
        # through `RevocationCheck` (benchmarks.inprocess, 2026-12-01).
        self._known = known_not_before(registry.ends)

    def __repr__(self) -> str:
        return f"SessionCheck({self.registry!r})"

    # -- on every request --------------------------------------------------

    def known_ended(self, identity: Identity, key: str) -> bool | None:
        """Whether `identity`'s session (its `end_key` is `key`) was ended,
        when the registry tells without a look-up; None when `ended` must be
        awaited."""
        known = self._known
        if known is not None and not self.ends.down and known(key) is None:
            return False  # never ended: the usual answer
        return self.ends.known_revoked(identity, key)

    async def ended(self, identity: Identity, key: str) -> bool:
        """Whether `identity`'s session was ended; raises when the registry
        does not answer."""
        return await self.ends.revoked(identity, key)

    def due(self, key: str) -> bool:
        """Whether this instance should write that the session of `key` was
        seen: not within `last_seen_interval` of its last write."""
        last = self._written.get(key)
        return last is None or (
            time.monotonic() - last >= self.registry.last_seen_interval
        )

    async def seen(
        self, identity: Identity, key: str, request: web.Request, policy: str
    ) -> None:
        """Write that `identity`'s session was seen now; a registry that does
        not answer is logged, never the request's failure (the session's
        validity does not depend on it)."""
        now = _now_ms()
        self._written.pop(key, None)
        self._written.put(key, time.monotonic())
        address = _address(request)
        session = LoginSession(
            identity.session_id or EARLIER_LOGINS,
            identity.user_id,
            now if identity.login_ms is None else identity.login_ms,
            now,
            address,
            address,
            _user_agent(request),
            policy,
        )
        try:
            await self.registry.seen(session, self.record_ttl)
        except Exception as exc:
            log.warning(
                "aiohttp_guard: the last sight of a session of %r was not recorded: %r",
                identity.user_id,
                exc,
            )

    # -- logins and logouts ------------------------------------------------

    async def record(
        self, request: web.Request, user_id: str, session_id: str, policy: str
    ) -> None:
        """Record the new session `session_id` of `user_id`; the sessions
        beyond the registry's `max_sessions` end. Raises (having listed again
        any session it could not end) when the registry does not answer."""
        now = _now_ms()
        address = _address(request)
        session = LoginSession(
            session_id,
            user_id,
            now,
            now,
            address,
            address,
            _user_agent(request),
            policy,
        )
        evicted = await self.registry.add(session, self.record_ttl)
        self._written.put(end_key(user_id, session_id), time.monotonic())
        for index, old in enumerate(evicted):
            try:
                await self.ends.revoke(end_key(user_id, old.id), _not_before(old.id))
            except Exception:
                await self._undo_start(session, evicted[index:])
                raise
            audit(
                "session_evicted",
                logging.INFO,
                f"a login session of {user_id!r} was ended: the user has more "
                f"than {self.registry.max_sessions} sessions, and it was the "
                "least recently seen",
                request,
                user_id=user_id,
            )

    async def _undo_start(
        self, session: LoginSession, not_ended: list[LoginSession]
    ) -> None:
        """A login whose evictions could not all be ended fails: its session
        is removed, and the sessions not ended are listed again (so that
        they can be ended later, rather than stay valid and unlisted), as
        far as the registry answers."""
        with contextlib.suppress(Exception):
            await self.registry.remove(session.user_id, [session.id])
        for kept in not_ended:
            with contextlib.suppress(Exception):
                await self.registry.seen(kept, self.record_ttl)

    async def end(self, user_id: str, session_id: str, *, owned: bool = False) -> bool:
        """End the session `session_id` of `user_id`: its tickets are refused
        from now on. Unless `owned` (the caller proved it is the user's),
        only a session recorded for that user is ended. Returns whether one
        was."""
        if not owned:
            ids = {session.id for session in await self.registry.of_user(user_id)}
            if session_id not in ids:
                return False
        key = end_key(user_id, session_id)
        await self.ends.revoke(key, _not_before(session_id))
        # Seen again, the entry of the earlier logins is listed again.
        self._written.pop(key, None)
        await self.registry.remove(user_id, [session_id])
        return True

    async def end_all(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of `user_id` but `keep`, and the earlier logins
        unless `keep` is one of them; return how many recorded ones ended."""
        ended = [
            session.id
            for session in await self.registry.of_user(user_id)
            if session.id not in (keep, EARLIER_LOGINS)
        ]
        for session_id in ended:
            await self.ends.revoke(end_key(user_id, session_id), ENDED)
        if keep is not None and keep != EARLIER_LOGINS:
            await self.ends.revoke(end_key(user_id, None))
            self._written.pop(end_key(user_id, None), None)
            ended.append(EARLIER_LOGINS)
        return len(await self.registry.remove(user_id, ended))

    async def forget_user(self, user_id: str) -> None:
        """Drop every record of `user_id` (after `logout_everywhere`, which
        refuses their tickets by itself)."""
        await self.registry.remove(user_id, None)


def new_session_id() -> str:
    """A new login session's id: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def _not_before(session_id: str) -> int | None:
    """How an entry ends: a session for good, the earlier logins from now."""
    return None if session_id == EARLIER_LOGINS else ENDED


def _user_agent(request: web.Request) -> str:
    return _text(request.headers.get(hdrs.USER_AGENT, ""))[:MAX_USER_AGENT]


def _text(value: str) -> str:
    """`value` as text any store and page can hold: a byte that was not
    UTF-8 (which aiohttp hands on as a lone surrogate) becomes "?"."""
    return value.encode("utf-8", "replace").decode("utf-8")


def _address(request: web.Request) -> str | None:
    remote = request.remote
    return None if remote is None else _text(remote)


def _now_ms() -> int:
    return int(time.time() * 1000)
