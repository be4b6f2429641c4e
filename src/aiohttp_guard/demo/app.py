"""The demo site: cookie tickets (or Redis sessions), the ACL of the
aiohttp_auth documentation, and every page behind a guard."""

from __future__ import annotations

import asyncio
import os
from html import escape
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from aiohttp_guard import (
    ACL,
    AbstractAuthentication,
    Allow,
    Authenticated,
    AuthenticatedUser,
    AuthService,
    CookieTicketPolicy,
    DefaultErrorHandler,
    Everyone,
    MemoryRevocationStore,
    Public,
    Requires,
    RevocationStore,
    SessionTicketPolicy,
    forget,
    get_auth,
    preferred_format,
    remember,
    safe_next,
)

from .pages import forbidden_page, layout, login_page, unavailable_page
from .users import check_password, groups

__all__ = ["CONTEXT", "make_app"]

Perm = Literal["view", "view_extra", "edit"]
PERMISSIONS: tuple[Perm, ...] = ("view", "view_extra", "edit")

#: The context of the aiohttp_auth documentation.
CONTEXT: ACL[Perm] = ACL(
    [
        (Allow, Everyone, "view"),
        (Allow, AuthenticatedUser, ("view", "view_extra")),
        (Allow, "edit_group", ("view", "view_extra", "edit")),
    ]
)


class DemoErrors(DefaultErrorHandler):
    """Browsers get readable 403 and 503 pages; everything else the default
    answers."""

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        if preferred_format(request.headers.get("Accept", "")) != "html":
            return super().forbidden(request, reason)
        return web.HTTPForbidden(text=forbidden_page(reason), content_type="text/html")

    def unavailable(self, request: web.Request) -> web.HTTPException:
        if preferred_format(request.headers.get("Accept", "")) != "html":
            return super().unavailable(request)
        return web.HTTPServiceUnavailable(
            headers={"Retry-After": "5"},
            text=unavailable_page(),
            content_type="text/html",
        )


async def render(request: web.Request, title: str, body: str) -> web.Response:
    user_id = await get_auth(request)
    return web.Response(text=layout(title, body, user_id), content_type="text/html")


@Public()
async def home(request: web.Request) -> web.Response:
    links = "".join(
        f'<li><a href="/{p}">{p}</a> needs the <code>{p}</code> permission</li>'
        for p in PERMISSIONS
    )
    return await render(request, "aiohttp_guard demo", f"<ul>{links}</ul>")


def permission_page(permission: Perm) -> Handler:
    @Requires(permission, CONTEXT)
    async def page(request: web.Request) -> web.Response:
        text = f'<p id="content">You have the <code>{permission}</code> permission.</p>'
        return await render(request, permission, text)

    return page


@Authenticated()
async def whoami(request: web.Request) -> web.Response:
    service = AuthService.of(request)
    user_id = await get_auth(request)
    principals = await service.principals(request) or frozenset()
    decisions = [await service.permits(request, p, CONTEXT) for p in PERMISSIONS]
    rows = "".join(f"<li><code>{escape(str(d))}</code></li>" for d in decisions)
    shown = escape(", ".join(sorted(map(repr, principals))))
    body = (
        f'<p>User id: <code id="user-id">{escape(str(user_id))}</code></p>'
        f'<p>Principals: <code id="principals">{shown}</code></p>'
        f'<p>Decisions:</p><ul id="decisions">{rows}</ul>'
    )
    return await render(request, "Who am I", body)


@Public()
async def login_form(request: web.Request) -> web.Response:
    page = login_page(safe_next(request, "/whoami"), None)
    return web.Response(text=page, content_type="text/html")


@Public()
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    user_id, password = str(form.get("username", "")), str(form.get("password", ""))
    # Hashing takes a few hundred milliseconds: in a thread, so that the
    # server answers other requests meanwhile.
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, check_password, user_id, password):
        page = login_page(
            safe_next(request, "/whoami"), "Unknown user or wrong password."
        )
        return web.Response(status=401, text=page, content_type="text/html")
    await remember(request, user_id)
    raise web.HTTPSeeOther(safe_next(request, "/whoami"))


@Public()
async def logout(request: web.Request) -> web.Response:
    await forget(request)
    raise web.HTTPSeeOther("/")


async def logout_everywhere(request: web.Request) -> web.Response:
    user_id = await Authenticated()(request)
    await AuthService.of(request).logout_everywhere(user_id, request)
    raise web.HTTPSeeOther("/login")


def make_app(
    redis_url: str | None = None, secret: bytes | None = None
) -> web.Application:
    """The demo app: cookie tickets and in-memory revocation, or with
    `redis_url` sessions and revocations in Redis."""
    secret = secret or os.urandom(32)
    app = web.Application()
    policy: AbstractAuthentication
    revocations: RevocationStore
    if redis_url is None:
        policy = CookieTicketPolicy(secret, max_age=3600, reissue_time=600)
        revocations = MemoryRevocationStore()
    else:
        # Only with --redis: the demo runs without redis installed.
        from .redis_mode import use_redis  # noqa: PLC0415

        policy = SessionTicketPolicy(secret, max_age=3600, reissue_time=600)
        revocations = use_redis(app, redis_url)
    AuthService(
        policy,
        groups=groups,
        default=Authenticated(),
        revocations=revocations,
        error_handler=DemoErrors(login_url="/login"),
    ).setup(app)
    app.add_routes(
        [
            web.get("/", home),
            *(web.get(f"/{p}", permission_page(p)) for p in PERMISSIONS),
            web.get("/whoami", whoami),
            web.get("/login", login_form),
            web.post("/login", login),
            web.post("/logout", logout),
            web.post("/logout-everywhere", logout_everywhere),
        ]
    )
    return app
