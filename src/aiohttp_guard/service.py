"""`AuthService`: the one object an app holds to know who its users are."""

from __future__ import annotations

from typing import Final

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ._compat import request_get, request_key
from ._views import ensure_view_guard
from .errors import DefaultErrorHandler, ErrorHandler
from .policies.base import AbstractAuthentication, Identity

__all__ = ["AuthService"]


@attrs.define
class _RequestState:
    """Per-request cache, so identity is resolved once however many ask."""

    service: AuthService
    resolved: bool = False
    identity: Identity | None = None


_STATE: Final = request_key("state", _RequestState)


class AuthService:
    """Owns the authentication policy and the way refusals are answered.

    Create one per app and call `setup(app)`; handlers and guards find it with
    `AuthService.of(request)`. `login_url` sends browsers that need to log in
    there (with a `next` parameter) instead of answering 401;
    `error_handler` replaces the default answers altogether.
    """

    def __init__(
        self,
        policy: AbstractAuthentication,
        *,
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
        self.policy = policy
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
        checked_views: set[type] = set()

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
        state.resolved = False

    async def forget(self, request: web.Request) -> None:
        """Log the client out: the response will clear their ticket."""
        state = _state(request)
        await self.policy.forget(request)
        state.resolved, state.identity = True, None

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
