"""`RequestContext`: one request as its service sees it.

The service's middleware makes one per request. It resolves who the request
comes from (`identity()`) and whom it speaks for (`principals()`) once,
however many guards ask, and records what the request did to its ticket
(a login, a logout, a renewal to confirm). Guards, the functional API, the
service's own methods and custom guards all ask it.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Hashable
from typing import Final

from aiohttp import web

from ._session_check import end_key, new_session_id
from .audit import audit
from .authenticator import SERVICE, Authenticator
from .identity import Identity
from .request_state import STATE, RequestState
from .revocation import Unknown

__all__ = ["RequestContext"]

log = logging.getLogger("aiohttp_guard")

#: An anonymous request's scopes. A constant: `frozenset[str]()` builds a
#: generic alias on every call (5 memory blocks of every anonymous request,
#: benchmarks.allocations, 2026-12-01).
_NO_SCOPES: Final[frozenset[str]] = frozenset()


class RequestContext(RequestState):
    """Who a request comes from and whom it speaks for, resolved once.

    `RequestContext.of(request)` finds it from any handler, guard or
    middleware listed after the service's.

    Args:
        request: The request; held weakly.
        authenticator: The service in charge of the request.
        outer: The state this context stands in for (an outer service's
            context, or a bare state), if any.
    """

    __slots__ = (
        "_identity",
        "_identity_known",
        "_principals",
        "_principals_known",
        "_request",
        "_started",
        "authenticator",
    )

    def __init__(
        self,
        request: web.Request,
        authenticator: Authenticator,
        outer: RequestState | None = None,
    ) -> None:
        # Named, not super(): building the proxy cost 0.07 us of every
        # request (2026-12-01), and the base is fixed.
        RequestState.__init__(self, outer)
        # Weakly: the request holds its context, and a cycle between them
        # would leave every request to the garbage collector, whose pauses
        # cost a third of a guarded request's throughput and tripled its p99
        # (benchmarks.http, 2026-11-30).
        self._request = weakref.ref(request)
        #: The service in charge of the request.
        self.authenticator = authenticator
        self._identity: Identity | None = None
        self._identity_known = False
        self._principals: frozenset[Hashable] | None = None
        self._principals_known = False
        # The login session this request started, to record once its ticket
        # is in the response: (user id, session id, policy).
        self._started: tuple[str, str, str] | None = None

    def __repr__(self) -> str:
        request = self._request()
        if request is None:
            return "<RequestContext of a finished request>"
        return f"<RequestContext {request.method} {request.path}>"

    @property
    def request(self) -> web.Request:
        """The request this context is about."""
        request = self._request()
        if request is None:
            raise RuntimeError("this RequestContext's request has been freed")
        return request

    @staticmethod
    def of(request: web.Request) -> RequestContext:
        """The request's context, or a `RuntimeError` naming the fix."""
        try:  # a hit once the middleware has run: a try costs nothing then
            state = request[STATE]
        except KeyError:
            state = None
        if isinstance(state, RequestContext):
            return state
        if SERVICE in request.config_dict:
            raise RuntimeError(
                "the AuthService middleware has not run for this request: "
                "call it from a handler, or from a middleware listed after it"
            )
        raise RuntimeError(
            "no AuthService for this request: call AuthService(policy).setup(app) "
            "on the application, or add aiohttp_guard.auth.auth_middleware(policy) "
            "to its middlewares"
        )

    async def identity(self) -> Identity | None:
        """The request's `Identity`, or None when anonymous.

        A ticket revoked by `logout_everywhere`, or of a login session that
        was ended, is forgotten (its cookie cleared); when the revocation
        store or the session registry cannot be reached, this raises the
        service's 503 rather than trust the ticket.
        """
        if not self._identity_known:
            authenticator = self.authenticator
            request = self.request
            identity = await authenticator.policy.identify(request)
            if identity is not None:
                # A provider's token is in no login session: only
                # `logout_everywhere` applies to it.
                key = (
                    None
                    if identity.sessionless
                    else end_key(identity.user_id, identity.session_id)
                )
                refused = self._known_refusal(identity, key)
                if refused is Unknown.UNKNOWN:
                    try:
                        refused = await self._refusal_of(identity, key)
                    except Exception as exc:
                        raise authenticator.unavailable(request) from exc
                if refused is not None:
                    await authenticator.policy.forget(request)
                    audit(
                        refused,
                        logging.INFO,
                        f"a ticket of {identity.user_id!r} was refused: "
                        + ("revoked" if refused == "revoked" else "its session ended"),
                        request,
                        user_id=identity.user_id,
                    )
                    identity = None
                elif key is not None:
                    sessions = authenticator.sessions_check
                    if sessions.due(key):
                        policy = authenticator.policy.session_kind(request) or ""
                        await sessions.seen(identity, key, request, policy)
            self._identity, self._identity_known = identity, True
        return self._identity

    def _known_refusal(
        self, identity: Identity, key: str | None
    ) -> str | Unknown | None:
        """`_refusal_of`, when the stores tell without a look-up (most
        requests: no coroutine), else `Unknown.UNKNOWN`."""
        revoked = self.authenticator.revocation.known_revoked(identity)
        if revoked is None:
            return Unknown.UNKNOWN
        if revoked:
            return "revoked"
        if key is None:
            return None
        ended = self.authenticator.sessions_check.known_ended(identity, key)
        if ended is None:
            return Unknown.UNKNOWN
        return "session_ended" if ended else None

    async def _refusal_of(self, identity: Identity, key: str | None) -> str | None:
        """Why `identity` must be refused ("revoked" by `logout_everywhere`,
        "session_ended": `key`, its session's `end_key`, was ended), or None;
        raises when a store does not answer. `key` is None for a credential
        in no session."""
        check = self.authenticator.revocation
        revoked = check.known_revoked(identity)
        if revoked is None:
            revoked = await check.revoked(identity)
        if revoked:
            return "revoked"
        if key is None:
            return None
        sessions = self.authenticator.sessions_check
        ended = sessions.known_ended(identity, key)
        if ended is None:
            ended = await sessions.ended(identity, key)
        return "session_ended" if ended else None

    async def user_id(self) -> str | None:
        """The request's user id, or None when anonymous."""
        identity = await self.identity()
        return None if identity is None else identity.user_id

    async def principals(self) -> frozenset[Hashable] | None:
        """Whom the request speaks for: the group resolver's groups plus
        `Everyone`, and `AuthenticatedUser`, `User(user_id)` and a `Scope`
        per scope of the credential when logged in; None when the resolver
        denies the user everything."""
        if not self._principals_known:
            identity = await self.identity()
            if identity is None:
                user_id, scopes = None, _NO_SCOPES
            else:
                user_id, scopes = identity.user_id, identity.scopes
            groups = await self.authenticator.resolve_groups(user_id)
            principals = self.authenticator.principals_of(user_id, groups, scopes)
            self._principals, self._principals_known = principals, True
        return self._principals

    def unauthenticated(self, reason: str = "not logged in") -> web.HTTPException:
        """The service's answer for a request that must log in, to raise;
        `reason` goes to the audit log."""
        return self.authenticator.unauthenticated(self.request, reason)

    def forbidden(self, reason: str) -> web.HTTPException:
        """The service's answer for a request without a permission, to raise."""
        return self.authenticator.forbidden(self.request, reason)

    # -- what the request changes ------------------------------------------

    async def remember(self, user_id: str) -> str | None:
        """Log `user_id` in; see `AuthService.remember`."""
        self._check_not_finished("remember")
        authenticator = self.authenticator
        policy = authenticator.policy
        request = self.request
        kind = policy.session_kind(request)
        # A second login in one request replaces the first's ticket.
        self._started = None
        session_id = None if kind is None else new_session_id()
        self.starting_session = session_id
        try:
            token = await policy.remember(request, user_id)
        finally:
            self.starting_session = None
        if session_id is not None and kind is not None:
            # Recorded once the response carries its ticket (the middleware
            # calls `record_login`): a login whose response fails leaves no
            # session to count towards max_sessions, nor evicts one.
            self._started = (user_id, session_id, kind)
            # A token handed to the handler (a bearer token) may leave in a
            # response already started: recorded before it is handed out.
            if token is not None and not await self.record_login():
                raise authenticator.unavailable(request)
        self.forget_resolved()
        # A login pending implies a changed ticket, on which the middleware
        # records it.
        self.renewal, self.ticket_changed = None, True
        audit(
            "login",
            logging.INFO,
            f"{user_id!r} logged in",
            self.request,
            user_id=user_id,
            policy=type(policy).__name__,
        )
        return token

    async def forget(self) -> None:
        """Log the client out and end its login session; see
        `AuthService.forget`."""
        self._check_not_finished("forget")
        identity = await self._identity_logging_out()
        await self.authenticator.policy.forget(self.request)
        self._started = None  # a login of this request: nothing to record
        self.forget_resolved()
        # Anonymous for the rest of the request, even where the client keeps
        # its credential (a bearer token).
        self._identity, self._identity_known = None, True
        self.renewal, self.ticket_changed = None, True
        user_id = None if identity is None else identity.user_id
        audit(
            "logout",
            logging.INFO,
            f"{user_id!r} logged out",
            self.request,
            user_id=user_id,
        )
        if identity is not None and identity.session_id is not None:
            try:
                await self.authenticator.sessions_check.end(
                    identity.user_id, identity.session_id, owned=True
                )
            except Exception as exc:
                # The cookie is cleared all the same; the client is told
                # that its session could not be ended everywhere.
                raise self.authenticator.unavailable(self.request) from exc

    @property
    def login_pending(self) -> bool:
        """Whether this request started a login session not recorded yet."""
        return self._started is not None

    def abandon_login(self) -> None:
        """Record no login session for this request's login: no response
        will carry its ticket (the handler failed, or its response had
        started already)."""
        self._started = None

    async def record_login(self) -> bool:
        """Record the login session this request started, now that its
        response carries the ticket; False when the registry does not
        answer (logged), and the response must not hand the ticket out."""
        started, self._started = self._started, None
        if started is None:
            return True
        user_id, session_id, kind = started
        try:
            await self.authenticator.sessions_check.record(
                self.request, user_id, session_id, kind
            )
        except Exception as exc:
            log.warning(
                "aiohttp_guard: the login of %r was refused: its session could "
                "not be recorded: %r",
                user_id,
                exc,
            )
            return False
        return True

    async def _identity_logging_out(self) -> Identity | None:
        """Who a logout logs out. When a store does not answer, the identity
        the credential claims, unchecked: it only names the session to end
        (ending a session of the client's own ticket is harmless), and the
        credential is forgotten all the same."""
        if self._identity_known:
            return self._identity
        try:
            return await self.identity()
        except Exception:
            try:
                return await self.authenticator.policy.identify(self.request)
            except Exception:
                return None

    @property
    def known_user_id(self) -> str | None:
        """The user id if this request has resolved it already, else None:
        for logging, which must not resolve it (nor fail)."""
        identity = self._identity if self._identity_known else None
        return None if identity is None else identity.user_id

    def forget_resolved(self) -> None:
        """Resolve identity and principals again when next asked (after a
        login, or a revocation of the request's own user)."""
        self._identity_known = self._principals_known = False

    async def renewal_still_valid(self) -> bool:
        """Whether the ticket a policy wants to renew is still good now that
        the response is written: not logged out, not revoked while the
        request ran, and the revocation store answers."""
        renewal = self.renewal
        if renewal is None or (self._identity_known and self._identity is not renewal):
            return False  # logged out, or in again as someone else
        key = end_key(renewal.user_id, renewal.session_id)
        try:
            revoked = await self._refusal_of(renewal, key) is not None
        except Exception:
            return False
        if revoked:
            await self.authenticator.policy.forget(self.request)
            self._identity, self._identity_known = None, True
            return False
        return True

    def _check_not_finished(self, action: str) -> None:
        if self.finished:
            raise RuntimeError(
                f"{action}() was called after the aiohttp_guard middleware had "
                "written the response's ticket, so it cannot take effect: call "
                "it from the handler, or from a middleware listed after the "
                "service's"
            )
