"""Checks of an app's setup that need no request.

aiohttp offers no hook for an app that never called `AuthService.setup`
(the library registers nothing on it), so a forgotten `setup` would show
only as a 500 on the first request to a guarded route. `check_app` finds
it before: call it in a test, or where the app is built.
"""

from __future__ import annotations

from aiohttp import web

from . import middleware
from ._routes import unserved_routes
from .authenticator import SERVICE

__all__ = ["check_app"]


def check_app(app: web.Application) -> None:
    """Raise a `RuntimeError` naming every guarded route of `app` (and of
    its sub-applications) that no `AuthService` serves; return when there is
    none."""
    unserved = unserved_routes(app, _served)
    if unserved:
        raise RuntimeError(
            "no AuthService serves these guarded routes, so each would answer "
            f"500: {', '.join(map(str, unserved))}. Call "
            "AuthService(policy).setup(app) on their application, or on an "
            "application they are mounted in"
        )


def _served(app: web.Application) -> bool:
    """Whether a service's middleware runs for `app`'s requests (and so for
    its sub-applications'): `setup` installed one, or the app lists one by
    hand (`auth.auth_middleware(policy)`, `service.middleware`)."""
    return SERVICE in app or any(
        getattr(handler, "__module__", None) == middleware.__name__
        for handler in app.middlewares
    )
