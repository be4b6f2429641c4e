"""The functional API of aiohttp_auth, unchanged but for the package name.

    from aiohttp_guard import auth

    policy = auth.CookieTktAuthentication(urandom(32), 60, include_ip=True)
    app = web.Application(middlewares=[auth.auth_middleware(policy)])

Applications written for its fork aiohttp_auth_autz call
`auth.setup(app, policy)` instead, which works too.

`remember`, `forget` and `get_auth` work the same under `AuthService.setup`,
so old and new code can share one app while it migrates.
"""

from .compat.functional import (
    AbstractAuthentication,
    CookieTktAuthentication,
    SessionTktAuthentication,
    auth_middleware,
    auth_required,
    forget,
    get_auth,
    remember,
    setup,
)

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
