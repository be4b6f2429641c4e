"""`Authenticator`: what every request of one service is checked with.

Its policy, its revocation check, its group resolver and its refusals. The
`AuthService` is one, and adds installation and the public API on top; each
request's `RequestContext` asks it, and nothing above.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from types import CoroutineType
from typing import Any, Final, TypeAlias

from aiohttp import hdrs, web

from ._fifo_cache import FifoCache
from ._maybe_await import maybe_await
from ._revocation_check import RevocationCheck
from ._session_check import SessionCheck
from .access_control import ACL
from .login_sessions import MemorySessionRegistry, SessionRegistry
from .policies.base import AbstractAuthentication
from .principals import Scope, User, principal_set
from .refusals import ErrorHandler, refusal
from .revocation import MemoryRevocationStore, RevocationStore

__all__ = ["SERVICE", "Authenticator", "GroupResolver", "Groups"]

#: What a group resolver returns: the user's groups, or None to deny the user
#: every permission (an empty collection means "no groups", not "denied").
Groups: TypeAlias = Iterable[Hashable] | None
#: `(user_id or None) -> Groups`, sync or async.
GroupResolver: TypeAlias = Callable[[str | None], Groups | Awaitable[Groups]]

log = logging.getLogger("aiohttp_guard")

#: Margin added to revocation entries' lifetime, for clocks that disagree.
REVOCATION_MARGIN: Final = 60.0

_USER_CACHE_SIZE: Final = 4096


class Authenticator:
    """The policy, revocations, groups and refusals of one service.

    Args:
        policy: Where identities are kept between requests.
        groups: Resolves a user id (None when anonymous) to the user's
            groups; None gives no groups.
        revocations: Where `logout_everywhere` times are kept; None keeps
            them in this process's memory.
        error_handler: Builds the answers to refused requests.
        sessions: Where login sessions are recorded; None keeps them in
            this process's memory.
    """

    def __init__(
        self,
        policy: AbstractAuthentication,
        *,
        groups: GroupResolver | None,
        revocations: RevocationStore | None,
        error_handler: ErrorHandler,
        sessions: SessionRegistry | None = None,
    ) -> None:
        if groups is not None and not callable(groups):
            raise TypeError("groups must be a callable taking a user id (or None)")
        self.policy = policy
        self.groups = groups
        self.error_handler = error_handler
        self._users: FifoCache[str, User] = FifoCache(_USER_CACHE_SIZE)
        self._principal_sets: FifoCache[
            tuple[str | None, tuple[Hashable, ...]], frozenset[Hashable] | None
        ] = FifoCache(_USER_CACHE_SIZE)
        self._scoped_sets: FifoCache[
            tuple[frozenset[Hashable], frozenset[str]], frozenset[Hashable]
        ] = FifoCache(_USER_CACHE_SIZE)
        # Revocations live as long as a ticket issued before them could.
        age = policy.max_ticket_age
        self.revocation = RevocationCheck(
            MemoryRevocationStore() if revocations is None else revocations,
            None if age is None else age + REVOCATION_MARGIN,
        )
        #: Whether the store is the default one, which a parent app's
        #: service may replace with its own (see `AuthService.setup`).
        self.default_store = revocations is None
        registry = MemorySessionRegistry() if sessions is None else sessions
        if registry.ends is self.revocation.store:
            # Their keys would meet: a user named "e:alice" revoked would
            # end alice's earlier logins.
            raise ValueError(
                "the session registry's `ends` store must not be the "
                "revocation store: give it a store of its own"
            )
        session_age = policy.max_session_ticket_age
        self.sessions_check = SessionCheck(
            registry,
            None if session_age is None else session_age + REVOCATION_MARGIN,
            # A record lives as long as the session's latest ticket could,
            # counted from a last sight written up to an interval late.
            None if session_age is None else session_age + registry.last_seen_interval,
        )
        #: Whether the registry is the default one (shared like the store).
        self.default_registry = sessions is None
        self._warned_no_groups = False

    def principals_of(
        self,
        user_id: str | None,
        groups: Groups,
        scopes: frozenset[str] = frozenset(),
    ) -> frozenset[Hashable] | None:
        """`principal_set` of `groups` and the user's `User`, plus a `Scope`
        for each of the credential's `scopes`. Kept for the users seen
        lately when the resolver answers a tuple (the documented form): a
        request then reuses the set, its hash and `User(user_id)` instead of
        building them (0.4 us of a 7 us guarded request, and a `User` alone
        0.6 us of 14 before, benchmarks.inprocess)."""
        if scopes:
            principals = self.principals_of(user_id, groups)
            if principals is None:  # the resolver denies the user everything
                return None
            scoped = self._scoped_sets.get((principals, scopes))
            if scoped is None:
                scoped = self._scoped_sets.put(
                    (principals, scopes),
                    principals.union(Scope(name) for name in scopes),
                )
            return scoped
        if not isinstance(groups, tuple):
            return principal_set(
                groups, None if user_id is None else self._user(user_id)
            )
        key = (user_id, groups)
        try:
            found = self._principal_sets.get(key)
        except TypeError:  # an unhashable group: principal_set says which
            return principal_set(groups, None if user_id is None else User(user_id))
        if found is None:
            user = None if user_id is None else self._user(user_id)
            found = self._principal_sets.put(key, principal_set(groups, user))
        return found

    def _user(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users.put(user_id, User(user_id))
        return user

    @property
    def revocations(self) -> RevocationStore:
        """Where `logout_everywhere` times are kept."""
        return self.revocation.store

    def share_revocations(self, other: Authenticator) -> None:
        """Keep and check revocations as `other` does from now on (a parent
        app's service whose tickets this one accepts): in its store, and for
        as long as the longer-lived tickets of either need, so that a
        revocation made through one holds for the other's tickets too."""
        check = other.revocation
        own = self.revocation.ttl
        check.ttl = _longer(check.ttl, own)
        self.revocation = check
        self.default_store = False

    def share_sessions(self, other: Authenticator) -> None:
        """Record and check login sessions as `other` does from now on (a
        parent app's service whose tickets this one accepts): ending a
        session through either refuses its tickets in both."""
        check = other.sessions_check
        own = self.sessions_check
        check.ends.ttl = _longer(check.ends.ttl, own.ends.ttl)
        check.record_ttl = _longer(check.record_ttl, own.record_ttl)
        self.sessions_check = check
        self.default_registry = False

    async def resolve_groups(self, user_id: str | None) -> Groups:
        """The group resolver's answer for `user_id` (no resolver: no groups)."""
        if self.groups is None:
            return ()
        groups = self.groups(user_id)
        if isinstance(groups, CoroutineType):  # an async def resolver: no ABC check
            return await groups  # type: ignore[no-any-return]
        return await maybe_await(groups)

    def check_group_entries(self, acl: ACL[Any], permission: object) -> None:
        """Warn, once per service, that `acl` names a group that can never
        match: this service has no group resolver to give users groups."""
        if self.groups is not None or self._warned_no_groups:
            return
        found = acl.group_entry
        if found is None:
            return
        self._warned_no_groups = True
        index, entry = found
        log.warning(
            "aiohttp_guard: a check of %r against an ACL whose entry %d %r names "
            "a group, but %r has no group resolver, so no user is ever in a "
            "group and the entry never matches: pass AuthService(..., "
            "groups=resolver). Said once per service",
            permission,
            index,
            entry,
            self.policy,
        )

    def unauthenticated(
        self, request: web.Request, reason: str = "not logged in"
    ) -> web.HTTPException:
        """The answer for a request that must log in (401 or a redirect), to
        raise; the middleware answers it without raising it further, and
        logs `reason` in the audit log."""
        return refusal(
            self.error_handler.unauthenticated(request, self.policy.challenge(request)),
            reason,
        )

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        """The answer for an identified request without the permission (403),
        to raise like `unauthenticated`'s; a 403 gets the policy's challenge
        for it, unless the error handler set one (an error handler that
        answers otherwise, a 404 hiding the resource, gets none)."""
        answer = self.error_handler.forbidden(request, reason)
        if answer.status == 403 and hdrs.WWW_AUTHENTICATE not in answer.headers:
            challenge = self.policy.forbidden_challenge(request)
            if challenge is not None:
                answer.headers[hdrs.WWW_AUTHENTICATE] = challenge
        return refusal(answer, reason)

    def unavailable(self, request: web.Request) -> web.HTTPException:
        """The answer when identity cannot be checked now (503)."""
        return refusal(
            self.error_handler.unavailable(request),
            "identity cannot be checked now: revocations do not answer",
        )


def _longer(one: float | None, other: float | None) -> float | None:
    """The longer of two lifetimes, None (for good) being the longest."""
    return None if one is None or other is None else max(one, other)


#: The service an app's `setup` installed.
SERVICE: Final = web.AppKey("aiohttp_guard.service", Authenticator)
