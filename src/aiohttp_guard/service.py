"""`AuthService`: the one object an app holds to know who its users are."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar, overload

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_urldispatcher import MatchInfoError

from ._acl import ACE, ACL, Decision, EntryTuple
from ._compat import request_get, request_key
from ._routes import RouteGuard, has_own_guard, routes_report
from ._views import ensure_view_guard
from .contexts import Context, ContextFactory, resolve_context
from .errors import DefaultErrorHandler, ErrorHandler
from .permissions import AuthenticatedUser, Everyone, User
from .policies.base import AbstractAuthentication, Identity

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


@attrs.define
class _RequestState:
    """Per-request cache, so identity and principals are resolved once however
    many guards ask."""

    service: AuthService
    resolved: bool = False
    identity: Identity | None = None
    principals_resolved: bool = False
    principals: frozenset[Hashable] | None = None

    def invalidate(self) -> None:
        self.resolved = self.principals_resolved = False


_STATE: Final = request_key("state", _RequestState)


class AuthService:
    """Owns the authentication policy, the group resolver and the way refusals
    are answered.

    Create one per app and call `setup(app)`; handlers and guards find it with
    `AuthService.of(request)`. `groups` resolves a user id (None when
    anonymous) to the user's groups. `default` guards every route that has no
    guard of its own (`Public()` opens one). `login_url` sends browsers that
    need to log in there (with a `next` parameter) instead of answering 401;
    `error_handler` replaces the default answers altogether.
    """

    def __init__(
        self,
        policy: AbstractAuthentication,
        *,
        groups: GroupResolver | None = None,
        default: Guard[Any] | None = None,
        login_url: str | None = None,
        error_handler: ErrorHandler | None = None,
    ) -> None:
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
        self.policy = policy
        self.groups = groups
        self.default = default
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

    def routes_report(self, app: web.Application) -> list[RouteGuard]:
        """Every route of `app` (sub-applications included) with what guards
        it, so an unguarded route is seen before it ships."""
        return routes_report(app, self.default)

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
        return _state(source).service

    def _make_middleware(self) -> Middleware:
        policy = self.policy
        default = self.default
        checked_views: set[type] = set()
        own_guard: dict[tuple[object, str], bool] = {}

        @web.middleware
        async def auth_middleware(
            request: web.Request, handler: Handler
        ) -> web.StreamResponse:
            route_handler = request.match_info.handler
            if isinstance(route_handler, type) and route_handler not in checked_views:
                if issubclass(route_handler, web.View):
                    ensure_view_guard(route_handler)
                checked_views.add(route_handler)
            outer = request_get(request, _STATE)
            request[_STATE] = _RequestState(self)
            try:
                try:
                    if default is not None and not isinstance(
                        request.match_info, MatchInfoError
                    ):
                        key = (route_handler, request.method)
                        guarded = own_guard.get(key)
                        if guarded is None:
                            guarded = own_guard[key] = has_own_guard(*key)
                        if not guarded:
                            await default(request)
                    response = await handler(request)
                except web.HTTPException as exc:
                    # A raised redirect after login must still carry the cookie.
                    await policy.process_response(request, exc)
                    raise
                await policy.process_response(request, response)
                return response
            finally:
                if outer is not None:
                    request[_STATE] = outer

        return auth_middleware

    # -- identity ----------------------------------------------------------

    async def identity(self, request: web.Request) -> Identity | None:
        """The request's `Identity`, resolved once per request."""
        state = _state(request)
        if not state.resolved:
            state.identity = await self.policy.identify(request)
            state.resolved = True
        return state.identity

    async def identify(self, request: web.Request) -> str | None:
        """The request's user id, or None for an anonymous request."""
        identity = await self.identity(request)
        return None if identity is None else identity.user_id

    async def remember(self, request: web.Request, user_id: str) -> None:
        """Log `user_id` in: the response will carry their ticket."""
        if not isinstance(user_id, str):
            raise TypeError(f"user_id must be a str, not {type(user_id).__name__}")
        state = _state(request)
        await self.policy.remember(request, user_id)
        state.invalidate()

    async def forget(self, request: web.Request) -> None:
        """Log the client out: the response will clear their ticket."""
        state = _state(request)
        await self.policy.forget(request)
        state.invalidate()

    # -- authorization -----------------------------------------------------

    async def principals(self, request: web.Request) -> frozenset[Hashable] | None:
        """Who the request speaks for: the resolver's groups plus `Everyone`,
        and `AuthenticatedUser` and `User(user_id)` when logged in; None when
        the resolver denies the user everything. Resolved once per request."""
        state = _state(request)
        if not state.principals_resolved:
            user_id = await self.identify(request)
            state.principals = await self._principals_of(user_id)
            state.principals_resolved = True
        return state.principals

    async def _principals_of(self, user_id: str | None) -> frozenset[Hashable] | None:
        groups = await self.resolve_groups(user_id)
        if groups is None:
            return None
        if user_id is None:
            return frozenset((*groups, Everyone))
        return frozenset((*groups, Everyone, AuthenticatedUser, User(user_id)))

    async def resolve_groups(self, user_id: str | None) -> Groups:
        """The group resolver's answer for `user_id` (no resolver: no groups)."""
        if self.groups is None:
            return ()
        groups = self.groups(user_id)
        if inspect.isawaitable(groups):
            groups = await groups
        if isinstance(groups, str | bytes):
            raise TypeError(
                f"the group resolver returned {groups!r} for {user_id!r}: return a "
                "collection of groups, such as ('editors',), or None"
            )
        return groups

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
        """The answer for a request that must log in (401 or a redirect)."""
        return self.error_handler.unauthenticated(
            request, self.policy.challenge(request)
        )

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        """The answer for an identified request without the permission (403)."""
        return self.error_handler.forbidden(request, reason)


_SERVICE: Final = web.AppKey("aiohttp_guard.service", AuthService)


def _state(request: web.Request) -> _RequestState:
    state = request_get(request, _STATE)
    if state is None:
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
    return state
