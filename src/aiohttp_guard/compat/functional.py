"""aiohttp_auth's functional API, on the new service: `auth_middleware`,
`remember`, `forget`, `get_auth`, `auth_required`, and the old names of the
ticket policies; and `setup`, from its fork aiohttp_auth_autz. Imported as
`aiohttp_guard.auth`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..guards import BaseGuard
from ..policies.base import AbstractAuthentication
from ..policies.cookie import CookieTicketPolicy
from ..policies.session import SessionTicketPolicy
from ..refusals import audited
from ..service import AuthService

__all__ = [
    "AbstractAuthentication",
    "CookieTktAuthentication",
    "SessionTktAuthentication",
    "auth_middleware",
    "auth_required",
    "forget",
    "get_auth",
    "remember",
    "setup",
]

P = ParamSpec("P")
R = TypeVar("R")

#: The old names of the ticket policies; same positional arguments.
CookieTktAuthentication = CookieTicketPolicy
SessionTktAuthentication = SessionTicketPolicy


def auth_middleware(policy: AbstractAuthentication) -> Middleware:
    """A middleware that authenticates requests with `policy` (an `AuthService`
    of its own, for apps that list their middlewares by hand)."""
    return AuthService(policy).middleware


def setup(app: web.Application, policy: AbstractAuthentication) -> None:
    """aiohttp_auth_autz's `auth.setup(app, policy)`: an `AuthService` of
    `policy` installed on `app`, its middleware after those already listed
    (sessions)."""
    AuthService(policy).setup(app)


async def remember(request: web.Request, user_id: str) -> str | None:
    """Log `user_id` in through the request's service; returns the token to
    hand out with `BearerTicketPolicy`, else None."""
    return await AuthService.of(request).remember(request, user_id)


async def forget(request: web.Request) -> None:
    """Log the request's user out through the request's service."""
    await AuthService.of(request).forget(request)


async def get_auth(request: web.Request) -> str | None:
    """The request's user id, or None when nobody is logged in."""
    return await AuthService.of(request).identify(request)


class _AnyUser(BaseGuard[str]):
    """aiohttp_auth's check: any logged-in user, else a plain 403."""

    __slots__ = ()

    async def check(self, request: web.Request) -> str:
        user_id = await get_auth(request)
        if user_id is None:
            raise audited(web.HTTPForbidden(), "not logged in")
        return user_id


_any_user = _AnyUser()


def auth_required(
    handler: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Refuse anonymous requests with `HTTPForbidden`, as aiohttp_auth did.
    New code uses `Authenticated()`, which answers 401 or a login redirect."""
    return _any_user(handler)
