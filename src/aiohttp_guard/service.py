"""`AuthService`: the one object an app holds to know who its users are."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar, cast, overload

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_urldispatcher import MatchInfoError

from ._acl import ACE, ACL, Decision, EntryTuple
from ._compat import request_get
from ._fifo_cache import FifoCache
from ._request_state import STATE, RequestState
from ._routes import (
    OwnGuard,
    RouteGuard,
    outdated,
    own_guard,
    public_routes,
    routes_report,
)
from .contexts import Context, ContextFactory, resolve_context
from .errors import (
    DefaultErrorHandler,
    ErrorHandler,
    is_refusal,
    refusal,
    refusal_response,
)
from .permissions import AuthenticatedUser, Everyone, User
from .policies._ticketing import TicketPolicyBase
from .policies.base import AbstractAuthentication, Identity
from .policies.chain import PolicyChain
from .revocation import MemoryRevocationStore, RevocationStore

if TYPE_CHECKING:
    from .guards import Guard

__all__ = ["AuthService", "GroupResolver", "Groups"]

log = logging.getLogger("aiohttp_guard")

P = TypeVar("P", bound=Hashable)

#: What a group resolver returns: the user's groups, or None to deny the user
#: every permission (an empty collection means "no groups", not "denied").
Groups: TypeAlias = Iterable[Hashable] | None
#: `(user_id or None) -> Groups`, sync or async.
GroupResolver: TypeAlias = Callable[[str | None], Groups | Awaitable[Groups]]


class AuthService:
    """Owns the authentication policy, the group resolver, the revocation
    store and the way refusals are answered.

    Create one per app and call `setup(app)`; handlers and guards find it with
    `AuthService.of(request)`. `policy` may be a list of policies, tried in
    order (cookies for browsers, bearer tokens for API clients). `groups`
    resolves a user id (None when anonymous) to the user's groups.
    `revocations` keeps `logout_everywhere` times (in memory by default; a
    `RedisRevocationStore` for several instances). `default` guards every
    route that has no guard of its own (`Public()` opens one). `login_url`
    sends browsers that need to log in there (with a `next` parameter) instead
    of answering 401; `error_handler` replaces the default answers altogether.
    """

    def __init__(
        self,
        policy: AbstractAuthentication | Sequence[AbstractAuthentication],
        *,
        groups: GroupResolver | None = None,
        default: Guard[Any] | None = None,
        revocations: RevocationStore | None = None,
        login_url: str | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> None:
        if isinstance(policy, list | tuple):
            policy = PolicyChain(policy)
        if not isinstance(policy, AbstractAuthentication):
            raise TypeError(
                "AuthService needs an authentication policy such as "
                f"CookieTicketPolicy, not {type(policy).__name__}"
            )
        if login_url is not None and error_handler is not None:
            raise ValueError(
                "give login_url to the error handler, not to AuthService as well"
            )
        if groups is not None and not callable(groups):
            raise TypeError("groups must be a callable taking a user id (or None)")
        self.policy: AbstractAuthentication = policy
        self.groups = groups
        self._async_groups = inspect.iscoroutinefunction(groups)
        self.default = default
        self.revocations: RevocationStore = (
            MemoryRevocationStore() if revocations is None else revocations
        )
        # An empty in-memory store answers without a look-up (the common case).
        self._memory_store = (
            self.revocations
            if type(self.revocations) is MemoryRevocationStore
            else None
        )
        self._default_store = revocations is None
        self._revocation_ttl = _longest_ticket_life(policy)
        self._users: FifoCache[str, User] = FifoCache(_USER_CACHE_SIZE)
        self._public: set[web.AbstractRoute] = set()
        self._own_guard: dict[tuple[web.AbstractRoute, str], OwnGuard] = {}
        self._store_down = False
        self._warned_no_issue_time = False
        self.error_handler: ErrorHandler = error_handler or DefaultErrorHandler(
            login_url=login_url
        )
        self.middleware: Final[Middleware] = self._make_middleware()

    def __repr__(self) -> str:
        return f"AuthService({self.policy!r})"

    # -- installation ------------------------------------------------------

    def setup(self, app: web.Application) -> None:
        """Store the service on `app` and append its middleware, so middlewares
        given to `web.Application(middlewares=...)` (sessions) run first."""
        if _SERVICE in app:
            raise RuntimeError("this app already has an AuthService")
        app[_SERVICE] = self
        app.middlewares.append(self.middleware)
        app.on_startup.append(self._log_routes)
        app.on_startup.append(self._share_revocations)
        # A store that can be opened (RedisRevocationStore starts its epoch
        # before the first login) is opened at startup; one that cannot be
        # reached yet opens on first use and fails closed meanwhile.
        open_store = cast(
            "Callable[[], Awaitable[object]] | None",
            getattr(self.revocations, "open", None),
        )
        if open_store is not None:

            async def open_revocations(app: web.Application) -> None:
                try:
                    await open_store()
                except Exception as exc:
                    self._store_down = True
                    log.error(
                        "aiohttp_guard: revocation store %r could not be "
                        "opened at startup, refusing identified requests "
                        "until it answers: %r",
                        self.revocations,
                        exc,
                    )

            app.on_startup.append(open_revocations)

    async def _share_revocations(self, app: web.Application) -> None:
        """A sub-application's service that accepts this service's tickets
        must refuse the ones revoked here: without a store of its own it
        takes this one, and a store of its own is a warning."""
        for sub in _sub_applications(app):
            nested = service_on(sub)
            if (
                nested is None
                or nested.revocations is self.revocations
                or not _share_tickets(self.policy, nested.policy)
            ):
                continue
            if nested._default_store:
                nested._use_store(self.revocations)
            else:
                log.warning(
                    "aiohttp_guard: %r of a sub-application accepts the tickets "
                    "of %r but keeps revocations in another store: a "
                    "logout_everywhere in one is not seen by the other; give "
                    "both the same revocations store",
                    nested,
                    self,
                )

    def _use_store(self, store: RevocationStore) -> None:
        self.revocations = store
        self._memory_store = store if type(store) is MemoryRevocationStore else None
        self._default_store = False

    def routes_report(self, app: web.Application) -> list[RouteGuard]:
        """Every route of `app` (sub-applications included) with what guards
        it, so an unguarded route is seen before it ships."""
        return routes_report(app, self.default, self._public)

    def public(self, target: web.AbstractResource | web.AbstractRoute) -> None:
        """Lift the `default` guard from one route (a GET route's HEAD route
        too) or from every route `target` resource has now, as `Public()` does
        for a handler: for what cannot be decorated, such as
        `app.router.add_static(...)`. Other routes sharing the handler stay
        guarded, and a route's own guards still run."""
        self._public.update(public_routes(target))
        self._own_guard.clear()

    async def _log_routes(self, app: web.Application) -> None:
        report = self.routes_report(app)
        log.info("aiohttp_guard routes:%s", "".join(f"\n  {route}" for route in report))
        unguarded = [route for route in report if not route.guarded]
        if unguarded:
            log.warning(
                "aiohttp_guard: %d unguarded route(s): %s",
                len(unguarded),
                ", ".join(f"{r.method} {r.path}" for r in unguarded),
            )

    @classmethod
    def of(cls, source: web.Request | web.Application) -> AuthService:
        """The service in charge of `source`, or a `RuntimeError` naming the fix."""
        if isinstance(source, web.Application):
            service = source.get(_SERVICE)
            if service is None:
                raise RuntimeError(
                    "no AuthService on this application: "
                    "call AuthService(policy).setup(app) first"
                )
            return service
        return request_state(source).service

    def _make_middleware(self) -> Middleware:
        policy = self.policy
        default = self.default
        own_guards = self._own_guard
        public = self._public
        # A policy that leaves responses alone (bearer tokens) is not asked:
        # awaiting the no-op hook was a measurable share of a request.
        writes_responses = (
            type(policy).process_response is not AbstractAuthentication.process_response
        )

        @web.middleware
        async def auth_middleware(
            request: web.Request, handler: Handler
        ) -> web.StreamResponse:
            match_info = request.match_info
            # Only a sub-application's service runs inside another one's, and
            # gives the outer state back afterwards; a look-up of a missing
            # key costs a KeyError, so it is made only then.
            outer = request_get(request, STATE) if len(match_info.apps) > 1 else None
            request[STATE] = state = RequestState(self)
            try:
                try:
                    # Decided once per route and method (a view class is
                    # armed then), and again when a view class's guards
                    # change; a 404 or 405 has no route to decide for.
                    if not isinstance(match_info, MatchInfoError):
                        route = match_info.route
                        # A route of one method is decided once; a '*' route
                        # once per standard method, and once for any other
                        # token (aiohttp answers them 405 on a view), so that
                        # made-up methods cannot grow the cache.
                        method = route.method
                        if method == hdrs.METH_ANY:
                            method = request.method
                            if method not in hdrs.METH_ALL:
                                method = ""
                        key = (route, method)
                        decided = own_guards.get(key)
                        if decided is None or (
                            default is not None and outdated(decided)
                        ):
                            decided = own_guards[key] = own_guard(
                                route.handler, method, opened=route in public
                            )
                        if not decided[0] and default is not None:
                            await default(request)
                    response = await handler(request)
                except web.HTTPException as exc:
                    if not is_refusal(exc):
                        # A raised redirect after login must still carry the cookie.
                        await finish(request, state, exc)
                        raise
                    # A guard's refusal is answered here, not raised on to
                    # aiohttp, where it would cost a garbage cycle (`refusal`).
                    response = refusal_response(exc)
                if state.renewal is None:
                    # No renewal to confirm (most requests): spare a coroutine.
                    if writes_responses:
                        await policy.process_response(request, response)
                    _keep_ticket_private(state, response)
                else:
                    await finish(request, state, response)
                return response
            finally:
                if outer is not None:
                    request[STATE] = outer

        async def finish(
            request: web.Request, state: RequestState, response: web.StreamResponse
        ) -> None:
            """Write what the request changed about its ticket into `response`."""
            if (
                state.renewal is not None
                and 200 <= response.status < 300
                and not response.prepared
                and (
                    # A renewal nobody asked for waits for a response that no
                    # shared cache may store with the ticket in it.
                    _shared_cacheable(response)
                    or not await self._renewal_still_valid(request, state)
                )
            ):
                state.renewal_refused = True
            if writes_responses:
                await policy.process_response(request, response)
            _keep_ticket_private(state, response)

        return auth_middleware

    # -- identity ----------------------------------------------------------

    async def identity(self, request: web.Request) -> Identity | None:
        """The request's `Identity`, resolved once per request.

        A ticket revoked by `logout_everywhere` is forgotten (its cookie
        cleared); when the revocation store cannot be reached, this raises the
        error handler's 503 rather than trust the ticket.
        """
        return await self._identity(request_state(request), request)

    async def _identity(
        self, state: RequestState, request: web.Request
    ) -> Identity | None:
        if not state.resolved:
            identity = await self.policy.identify(request)
            if (
                identity is not None
                and (self._memory_store is None or len(self._memory_store))
                and await self._revoked(request, identity)
            ):
                await self.policy.forget(request)
                identity = None
            state.identity = identity
            state.resolved = True
        return state.identity

    async def _revoked(self, request: web.Request, identity: Identity) -> bool:
        try:
            not_before = await self._not_before(identity.user_id)
        except Exception as exc:
            raise refusal(self.error_handler.unavailable(request)) from exc
        if identity.issued_ms is None and not_before is not None:
            self._warn_no_issue_time()
        return _revoked_by(identity, not_before)

    def _warn_no_issue_time(self) -> None:
        if not self._warned_no_issue_time:
            self._warned_no_issue_time = True
            log.warning(
                "aiohttp_guard: %r gives identities no issue time, so any "
                "revocation of their user (and the epoch a RedisRevocationStore "
                "keeps) refuses them: set Identity.issued_ms in its identify()",
                self.policy,
            )

    async def _renewal_still_valid(
        self, request: web.Request, state: RequestState
    ) -> bool:
        """Whether the ticket a policy wants to renew is still good now that
        the response is written: not logged out, not revoked while the
        request ran, and the revocation store answers."""
        renewal = state.renewal
        if renewal is None or (state.resolved and state.identity is not renewal):
            return False  # logged out, or in again as someone else
        if self._memory_store is not None and not len(self._memory_store):
            return True
        try:
            not_before = await self._not_before(renewal.user_id)
        except Exception:
            return False
        if _revoked_by(renewal, not_before):
            await self.policy.forget(request)
            state.resolved, state.identity = True, None
            return False
        return True

    async def _not_before(self, user_id: str) -> int | None:
        """The store's not-before time for `user_id`; raises what the store
        raised when it does not answer. An outage is logged once, at its
        start, and its end once."""
        try:
            not_before = await self.revocations.not_before(user_id)
        except Exception as exc:
            if not self._store_down:
                self._store_down = True
                log.error(
                    "aiohttp_guard: revocation store %r unreachable, refusing "
                    "identified requests until it answers: %r",
                    self.revocations,
                    exc,
                )
            raise
        if self._store_down:
            self._store_down = False
            log.warning(
                "aiohttp_guard: revocation store %r answers again", self.revocations
            )
        return not_before

    async def logout_everywhere(
        self, user_id: str, request: web.Request | None = None
    ) -> None:
        """Reject every ticket of `user_id` issued before now, on every
        instance sharing the revocation store; later logins work at once.

        Pass the current `request` when it is the user's own ("log out of all
        devices", a password change), so that it stops counting as logged in
        too; call `remember` after this to keep them logged in here.
        """
        # Tickets tell their issue time in milliseconds: one issued earlier in
        # this very millisecond must be revoked too, so the limit is the next
        # one, and this call returns only once it has come, so that tickets
        # issued afterwards (this device's new login) are not.
        not_before = int(time.time() * 1000) + 1
        await self.revocations.revoke(user_id, not_before, self._revocation_ttl)
        wait = not_before / 1000 - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if request is not None:
            request_state(request).invalidate()

    async def identify(self, request: web.Request) -> str | None:
        """The request's user id, or None for an anonymous request."""
        identity = await self.identity(request)
        return None if identity is None else identity.user_id

    async def remember(self, request: web.Request, user_id: str) -> str | None:
        """Log `user_id` in: the response will carry their ticket. Returns
        the token to hand out when the policy stores nothing on the client
        (`BearerTicketPolicy`), else None."""
        if not isinstance(user_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"user_id must be a str, not {type(user_id).__name__}")
        state = request_state(request)
        _check_not_finished(state, "remember")
        token = await self.policy.remember(request, user_id)
        state.invalidate()
        state.renewal, state.ticket_changed = None, True
        return token

    async def forget(self, request: web.Request) -> None:
        """Log the client out: the response will clear their ticket."""
        state = request_state(request)
        _check_not_finished(state, "forget")
        await self.policy.forget(request)
        state.invalidate()
        # Anonymous for the rest of the request, even where the client keeps
        # its credential (a bearer token).
        state.resolved, state.identity = True, None
        state.renewal, state.ticket_changed = None, True

    # -- authorization -----------------------------------------------------

    async def principals(self, request: web.Request) -> frozenset[Hashable] | None:
        """Who the request speaks for: the resolver's groups plus `Everyone`,
        and `AuthenticatedUser` and `User(user_id)` when logged in; None when
        the resolver denies the user everything. Resolved once per request."""
        return await self._principals(request_state(request), request)

    async def _principals(
        self, state: RequestState, request: web.Request
    ) -> frozenset[Hashable] | None:
        if state.principals_resolved:
            return state.principals
        # Read directly once resolved, as guards do, to spare a coroutine.
        identity = (
            state.identity if state.resolved else await self._identity(state, request)
        )
        user_id = None if identity is None else identity.user_id
        groups = await self.resolve_groups(user_id)
        principals: frozenset[Hashable] | None
        if groups is None:
            principals = None
        elif user_id is None:
            principals = frozenset((*groups, Everyone))
        else:
            principals = frozenset(
                (*groups, Everyone, AuthenticatedUser, self._user(user_id))
            )
        state.principals, state.principals_resolved = principals, True
        return principals

    def _user(self, user_id: str) -> User:
        """`User(user_id)`, kept for the users seen lately: building one (and
        hashing it) costs more than the rest of a principal set."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users.put(user_id, User(user_id))
        return user

    async def resolve_groups(self, user_id: str | None) -> Groups:
        """The group resolver's answer for `user_id` (no resolver: no groups)."""
        if self.groups is None:
            return ()
        answer = self.groups(user_id)
        if self._async_groups or inspect.isawaitable(answer):
            answer = await cast("Awaitable[Groups]", answer)
        return _checked_groups(answer, user_id)

    @overload
    async def permits(
        self, request: web.Request, permission: P, context: ACL[P]
    ) -> Decision[P]: ...
    @overload
    async def permits(
        self,
        request: web.Request,
        permission: P,
        context: Sequence[ACE[P] | EntryTuple[P]],
    ) -> Decision[P]: ...
    @overload
    async def permits(
        self, request: web.Request, permission: P, context: ContextFactory[P]
    ) -> Decision[P]: ...
    @overload
    async def permits(
        self,
        request: web.Request,
        permission: P,
        context: Callable[[web.Request], Any],
    ) -> Decision[P]: ...
    async def permits(
        self, request: web.Request, permission: P, context: Context[P]
    ) -> Decision[P]:
        """Whether the request has `permission` in `context`, without raising."""
        acl = await resolve_context(context, request)
        return acl.permits(await self.principals(request), permission)

    # -- refusals ----------------------------------------------------------

    def unauthenticated(self, request: web.Request) -> web.HTTPException:
        """The answer for a request that must log in (401 or a redirect), to
        raise; the middleware answers it without raising it further."""
        return refusal(
            self.error_handler.unauthenticated(request, self.policy.challenge(request))
        )

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        """The answer for an identified request without the permission (403),
        to raise like `unauthenticated`'s."""
        return refusal(self.error_handler.forbidden(request, reason))


_SERVICE: Final = web.AppKey("aiohttp_guard.service", AuthService)

_USER_CACHE_SIZE: Final = 4096

#: Margin added to revocation entries' lifetime, for clocks that disagree.
_REVOCATION_MARGIN: Final = 60.0


def _revoked_by(identity: Identity, not_before: int | None) -> bool:
    """Whether a not-before time covers `identity`: issued before it, or
    renewed from a login made before it."""
    if not_before is None:
        return False
    issued = identity.issued_ms
    if issued is None:
        return True
    login = identity.login_ms
    return issued < not_before or (login is not None and login < not_before)


def _keep_ticket_private(state: RequestState, response: web.StreamResponse) -> None:
    """The last step of a request: a response that sets or clears a ticket is
    kept from shared caches, which must never hand one user's ticket to
    another; the ticket can no longer change."""
    if (
        state.ticket_changed
        and not response.prepared
        and hdrs.CACHE_CONTROL not in response.headers
    ):
        response.headers[hdrs.CACHE_CONTROL] = "no-store"
    state.finished = True


def _shared_cacheable(response: web.StreamResponse) -> bool:
    """Whether the handler let shared caches store `response`: it set
    Cache-Control without `private` or `no-store`."""
    value = response.headers.get(hdrs.CACHE_CONTROL)
    if value is None:
        return False
    directives = {d.split("=", 1)[0].strip().lower() for d in value.split(",")}
    return not directives & {"private", "no-store"}


def _check_not_finished(state: RequestState, action: str) -> None:
    if state.finished:
        raise RuntimeError(
            f"{action}() was called after the aiohttp_guard middleware had "
            "written the response's ticket, so it cannot take effect: call it "
            "from the handler, or from a middleware listed after the service's"
        )


def _checked_groups(groups: Groups, user_id: str | None) -> Groups:
    if isinstance(groups, str | bytes):
        raise TypeError(
            f"the group resolver returned {groups!r} for {user_id!r}: return a "
            "collection of groups, such as ('editors',), or None"
        )
    return groups


def _members(policy: AbstractAuthentication) -> tuple[AbstractAuthentication, ...]:
    """The policies behind `policy`: a chain's, or itself."""
    return policy.policies if isinstance(policy, PolicyChain) else (policy,)


def _longest_ticket_life(policy: AbstractAuthentication) -> float | None:
    """How long a ticket issued now can stay valid: revocation entries need to
    live no longer. None when a policy cannot tell (entries are kept)."""
    policies = _members(policy)
    tickets = [p for p in policies if isinstance(p, TicketPolicyBase)]
    if len(tickets) != len(policies) or any(p.accept_legacy for p in tickets):
        # Legacy tickets tell no issue time, so no lifetime bounds them.
        return None
    lives = [p.max_age + p.codec.clock_skew_ms / 1000 for p in tickets]
    return max(lives) + _REVOCATION_MARGIN


def _sub_applications(app: web.Application) -> Iterator[web.Application]:
    """Every application mounted below `app`, at any depth."""
    for resource in app.router.resources():
        sub = resource.get_info().get("app")
        if isinstance(sub, web.Application):
            yield sub
            yield from _sub_applications(sub)


def _credentials(policy: AbstractAuthentication) -> set[object]:
    """What makes a ticket valid for `policy`: its keys' ids, or the policy
    object itself for a policy of one's own."""
    found: set[object] = set()
    for member in _members(policy):
        if isinstance(member, TicketPolicyBase):
            found.update(member.codec.key_ids)
        else:
            found.add(member)
    return found


def _share_tickets(one: AbstractAuthentication, other: AbstractAuthentication) -> bool:
    return bool(_credentials(one) & _credentials(other))


def service_on(app: web.Application) -> AuthService | None:
    """The service `setup` installed on `app` itself, if any (package-internal)."""
    return app.get(_SERVICE)


def request_state(request: web.Request) -> RequestState:
    """The request's state, which names its service (package-internal)."""
    try:
        return request[STATE]
    except KeyError:
        pass
    if _SERVICE in request.config_dict:
        raise RuntimeError(
            "the AuthService middleware has not run for this request: "
            "call it from a handler, or from a middleware listed after it"
        )
    raise RuntimeError(
        "no AuthService for this request: call AuthService(policy).setup(app) "
        "on the application, or add aiohttp_guard.auth.auth_middleware(policy) "
        "to its middlewares"
    )
