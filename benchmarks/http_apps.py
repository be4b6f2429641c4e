"""The apps `benchmarks.http` serves, one per contender, all alike: `GET /login`
gives a user credentials, `GET /protected` requires the `edit` permission of a
three-entry ACL (the aiohttp_auth documentation's). Users: `alice` may edit,
`bob` may not.

    python -m benchmarks.http_apps CONTENDER --port P
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Hashable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_auth import acl as old_acl
from aiohttp_auth import auth as old_auth
from aiohttp_auth.permissions import Group as OldGroup
from aiohttp_auth.permissions import Permission as OldPermission
from aiohttp_security import (
    CookiesIdentityPolicy,
    SessionIdentityPolicy,
    check_permission,
    setup,
)
from aiohttp_security import remember as security_remember
from aiohttp_security.abc import AbstractAuthorizationPolicy
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from ticket_auth import TicketFactory

from aiohttp_guard import (
    ACL,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    Public,
    Requires,
    SessionTicketPolicy,
    remember,
)
from aiohttp_guard.permissions import AuthenticatedUser, Everyone, Permission

SECRET = b"benchmark secret: thirty-two b.."
SESSION_KEY = b"benchmark session key, 32 bytes!"
GROUPS: dict[str, tuple[str, ...]] = {"alice": ("edit_group",), "bob": ()}
ENTRIES = [
    (Permission.Allow, Everyone, ("view",)),
    (Permission.Allow, AuthenticatedUser, ("view", "view_extra")),
    (Permission.Allow, "edit_group", ("view", "view_extra", "edit")),
]
CONTEXT: ACL[str] = ACL(ENTRIES)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def groups(user_id: str | None) -> Iterable[Hashable] | None:
    return GROUPS.get(user_id or "", ())


def bare() -> web.Application:
    app = web.Application()
    app.router.add_get("/protected", ok)
    return app


@web.middleware
async def empty_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    return await handler(request)


def with_empty_middleware() -> web.Application:
    """What any middleware costs before it does anything: aiohttp then also
    runs its own middleware that tracks the current app."""
    app = web.Application(middlewares=[empty_middleware])
    app.router.add_get("/protected", ok)
    return app


def guard(kind: str, *, csrf: bool = True) -> web.Application:
    app = web.Application()
    if kind == "session":
        app.middlewares.append(session_middleware(EncryptedCookieStorage(SESSION_KEY)))
        policy: Any = SessionTicketPolicy(SECRET, 3600)
    elif kind == "bearer":
        policy = BearerTicketPolicy(SECRET, 3600)
    else:
        policy = CookieTicketPolicy(SECRET, 3600)
    if csrf:
        AuthService(policy, groups=groups).setup(app)
    else:
        AuthService(policy, groups=groups, csrf=None).setup(app)

    @Public()
    async def login(request: web.Request) -> web.Response:
        token = await remember(request, request.query["user"])
        return web.Response(text=token or "")

    protected = Requires("edit", CONTEXT)(ok)
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/protected", protected),
            web.post("/protected", protected),
        ]
    )
    return app


def security(kind: str) -> web.Application:
    class Autz(AbstractAuthorizationPolicy):
        """The same ACL, checked the way aiohttp-security leaves to users."""

        async def authorized_userid(self, identity: str) -> str | None:
            return identity if identity in GROUPS else None

        async def permits(
            self, identity: str | None, permission: str | Any, context: Any = None
        ) -> bool:
            principals: set[Hashable] = {Everyone}
            if identity in GROUPS:
                principals |= {AuthenticatedUser, identity, *GROUPS[identity]}
            for action, principal, permissions in ENTRIES:
                if principal in principals and permission in permissions:
                    return action is Permission.Allow
            return False

    app = web.Application()
    if kind == "session":
        app.middlewares.append(session_middleware(EncryptedCookieStorage(SESSION_KEY)))
        identity: Any = SessionIdentityPolicy()
    else:
        identity = CookiesIdentityPolicy()
    setup(app, identity, Autz())

    async def login(request: web.Request) -> web.Response:
        response = web.Response(text="")
        await security_remember(request, response, request.query["user"])
        return response

    async def protected(request: web.Request) -> web.Response:
        await check_permission(request, "edit")
        return web.Response(text="ok")

    app.add_routes([web.get("/login", login), web.get("/protected", protected)])
    return app


def aiohttp_auth() -> web.Application:
    """aiohttp_auth 0.1.1 as far as it runs: its `acl_required` always fails
    and its `remember` fails on aiohttp 2+, so the check is written out with
    `auth_required` and `get_permitted`, and tickets are made by its factory."""
    old_context = [
        (OldPermission.Allow, OldGroup.Everyone, ("view",)),
        (OldPermission.Allow, OldGroup.AuthenticatedUser, ("view", "view_extra")),
        (OldPermission.Allow, "edit_group", ("view", "view_extra", "edit")),
    ]

    async def callback(user_id: str | None) -> tuple[str, ...]:
        return GROUPS.get(user_id or "", ())

    @old_auth.auth_required
    async def protected(request: web.Request) -> web.Response:
        if not await old_acl.get_permitted(request, "edit", old_context):
            raise web.HTTPForbidden()
        return web.Response(text="ok")

    async def login(request: web.Request) -> web.Response:
        ticket = TicketFactory(SECRET).new(
            request.query["user"], valid_until=time.time() + 3600
        )
        return web.Response(text=ticket)

    policy = old_auth.CookieTktAuthentication(SECRET, 3600)
    middlewares = [old_auth.auth_middleware(policy), old_acl.acl_middleware(callback)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = web.Application(middlewares=middlewares)
    app.add_routes([web.get("/login", login), web.get("/protected", protected)])
    return app


CONTENDERS = {
    "bare aiohttp": bare,
    "bare aiohttp, sent a ticket cookie it ignores": bare,
    "aiohttp + an empty middleware": with_empty_middleware,
    "aiohttp_guard cookie": lambda: guard("cookie"),
    "aiohttp_guard cookie, csrf off": lambda: guard("cookie", csrf=False),
    "aiohttp_guard session (EncryptedCookieStorage)": lambda: guard("session"),
    "aiohttp_guard bearer": lambda: guard("bearer"),
    "aiohttp-security cookie (unsigned)": lambda: security("cookie"),
    "aiohttp-security session (EncryptedCookieStorage)": lambda: security("session"),
    "aiohttp_auth 0.1.1 cookie": aiohttp_auth,
}


#: The contenders also loaded with a same-origin POST: cross-origin
#: protection on (the default) and off.
UNSAFE_METHOD_CONTENDERS = ("aiohttp_guard cookie", "aiohttp_guard cookie, csrf off")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    # aiohttp_session logs each undecryptable cookie; the tampered runs would
    # measure the terminal, for both session contenders alike.
    logging.getLogger("aiohttp_session").setLevel(logging.ERROR)
    app = CONTENDERS[args.contender]()
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
