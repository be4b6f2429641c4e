"""The demo site: cookie tickets (or Redis sessions), the ACL of the
aiohttp_auth documentation, and every page behind a guard."""

from __future__ import annotations

import asyncio
import os
from html import escape
from pathlib import Path
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
    Decision,
    DefaultErrorHandler,
    Everyone,
    LoginThrottle,
    MemoryRevocationStore,
    MemorySessionRegistry,
    Public,
    Requires,
    RevocationStore,
    SessionRegistry,
    SessionTicketPolicy,
    forget,
    get_auth,
    preferred_format,
    remember,
    safe_next,
)

from .pages import (
    decisions_table,
    devices_page,
    forbidden_page,
    layout,
    login_page,
    throttled_page,
    unavailable_page,
)
from .users import check_password, groups

__all__ = ["CONTEXT", "THROTTLE", "make_app"]

STATIC = Path(__file__).parent / "static"

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


#: Where the app keeps its login throttle.
THROTTLE = web.AppKey("demo.throttle", LoginThrottle)


class ForbiddenPage(web.HTTPForbidden):
    """The demo's 403 page, which `name_the_refused` completes with the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(text=escape(reason), content_type="text/html")
        self.refused_because = reason


class DemoErrors(DefaultErrorHandler):
    """Browsers get readable 403, 429 and 503 pages; everything else the
    default answers."""

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        if preferred_format(request.headers.get("Accept", "")) != "html":
            return super().forbidden(request, reason)
        return ForbiddenPage(reason)

    def unavailable(self, request: web.Request) -> web.HTTPException:
        if preferred_format(request.headers.get("Accept", "")) != "html":
            return super().unavailable(request)
        return web.HTTPServiceUnavailable(
            headers={"Retry-After": "5"},
            text=unavailable_page(),
            content_type="text/html",
        )

    def too_many_requests(
        self, request: web.Request, retry_after: int
    ) -> web.HTTPException:
        if preferred_format(request.headers.get("Accept", "")) != "html":
            return super().too_many_requests(request, retry_after)
        return web.HTTPTooManyRequests(
            headers={"Retry-After": str(retry_after)},
            text=throttled_page(retry_after),
            content_type="text/html",
        )


@web.middleware
async def name_the_refused(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Write who was refused into the 403 page, as every page says who is
    logged in. The error handler cannot: it is synchronous, and looking the
    user up may need the session store. Here the guard that refused has
    looked the user up already, so asking again costs nothing."""
    try:
        return await handler(request)
    except ForbiddenPage as page:
        page.text = forbidden_page(page.refused_because, await get_auth(request))
        raise


async def render(request: web.Request, title: str, body: str) -> web.Response:
    user_id = await get_auth(request)
    return web.Response(text=layout(title, body, user_id), content_type="text/html")


async def decisions(request: web.Request) -> list[Decision[Perm]]:
    """What `CONTEXT` decides for this request's user, permission by permission."""
    service = AuthService.of(request)
    return [await service.permits(request, p, CONTEXT) for p in PERMISSIONS]


@Public()
async def home(request: web.Request) -> web.Response:
    body = (
        "<p>Each page needs the permission of its name. "
        "The ACL below decides who has it; the first entry that matches wins.</p>"
        f"{decisions_table(await decisions(request), links=True)}"
    )
    return await render(request, "aiohttp_guard demo", body)


def permission_page(permission: Perm) -> Handler:
    @Requires(permission, CONTEXT)
    async def page(request: web.Request) -> web.Response:
        text = f'<p id="content">You have the <code>{permission}</code> permission.</p>'
        return await render(request, permission, text)

    return page


@Authenticated()
async def whoami(request: web.Request) -> web.Response:
    user_id = await get_auth(request)
    principals = await AuthService.of(request).principals(request) or frozenset()
    names = sorted(map(repr, principals))
    shown = ", ".join(f"<code>{escape(name)}</code>" for name in names)
    body = (
        f'<p>User id: <code id="user-id">{escape(str(user_id))}</code></p>'
        f'<p>Principals: <span id="principals">{shown}</span></p>'
        f"{decisions_table(await decisions(request), links=False)}"
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
    throttle = request.app[THROTTLE]
    # Before the password is checked: refused (429) after five failures a
    # minute for the account, known or not.
    await throttle.check(request, user_id)
    # Hashing takes a few hundred milliseconds: in a thread, so that the
    # server answers other requests meanwhile.
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, check_password, user_id, password):
        await throttle.failed(request, user_id)
        page = login_page(
            safe_next(request, "/whoami"), "Unknown user or wrong password.", user_id
        )
        return web.Response(status=401, text=page, content_type="text/html")
    await throttle.succeeded(request, user_id)
    await remember(request, user_id)
    raise web.HTTPSeeOther(safe_next(request, "/whoami"))


@Public()
async def logout(request: web.Request) -> web.Response:
    await forget(request)
    raise web.HTTPSeeOther("/")


async def devices(request: web.Request) -> web.Response:
    """The user's login sessions ("Your devices")."""
    service = AuthService.of(request)
    user_id = await Authenticated()(request)
    current = await service.current_session(request)
    body = devices_page(
        await service.sessions(user_id), None if current is None else current.id
    )
    return await render(request, "Your devices", body)


async def end_device(request: web.Request) -> web.Response:
    """Ends one of the user's sessions (never another user's: the service
    ends only a session recorded for this user)."""
    user_id = await Authenticated()(request)
    form = await request.post()
    await AuthService.of(request).end_session(user_id, str(form.get("id", "")), request)
    raise web.HTTPSeeOther("/devices")


async def end_other_devices(request: web.Request) -> web.Response:
    await AuthService.of(request).end_other_sessions(request)
    raise web.HTTPSeeOther("/devices")


async def logout_everywhere(request: web.Request) -> web.Response:
    user_id = await Authenticated()(request)
    await AuthService.of(request).logout_everywhere(user_id, request)
    raise web.HTTPSeeOther("/login")


@Public()
async def no_api(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented(
        text="The demo's API needs PyJWT: pip install 'aiohttp_guard[jwt]'"
    )


def api(
    app: web.Application, issuer: str | None, audience: str
) -> tuple[list[AbstractAuthentication], list[web.RouteDef]]:
    """The API's token policy (none without PyJWT) and routes."""
    try:
        from .api import api_routes, token_policy  # noqa: PLC0415 - PyJWT, if there
    except ImportError:
        return [], [web.get("/api/notes", no_api), web.get("/api-token", no_api)]
    return [token_policy(app, issuer, audience)], api_routes()


def make_app(
    redis_url: str | None = None,
    secret: bytes | None = None,
    issuer: str | None = None,
    audience: str = "demo-api",
) -> web.Application:
    """The demo app: cookie tickets, in-memory revocation and login counts,
    or with `redis_url` sessions, revocations and login counts in Redis. Its
    API takes the access tokens of `issuer` for `audience`, or without an
    issuer those of a stand-in provider (`/api-token` gives one)."""
    secret = secret or os.urandom(32)
    app = web.Application()
    token_policies, api_routes = api(app, issuer, audience)
    policy: AbstractAuthentication
    revocations: RevocationStore
    sessions: SessionRegistry
    if redis_url is None:
        policy = CookieTicketPolicy(secret, max_age=3600, reissue_time=600)
        revocations, sessions = MemoryRevocationStore(), MemorySessionRegistry()
    else:
        # Only with --redis: the demo runs without redis installed.
        from .redis_mode import use_redis  # noqa: PLC0415

        policy = SessionTicketPolicy(secret, max_age=3600, reissue_time=600)
        revocations, sessions = use_redis(app, redis_url)
    service = AuthService(
        [*token_policies, policy],
        groups=groups,
        default=Authenticated(),
        revocations=revocations,
        sessions=sessions,
        error_handler=DemoErrors(login_url="/login"),
    )
    service.setup(app)
    app[THROTTLE] = LoginThrottle(
        per_account="5/minute", storage=redis_url or "memory://"
    )
    app[THROTTLE].setup(app)
    app.middlewares.append(name_the_refused)  # after the service's
    app.add_routes(
        [
            web.get("/", home),
            *(web.get(f"/{p}", permission_page(p)) for p in PERMISSIONS),
            web.get("/whoami", whoami),
            web.get("/login", login_form),
            web.post("/login", login),
            web.post("/logout", logout),
            web.post("/logout-everywhere", logout_everywhere),
            web.get("/devices", devices),
            web.post("/devices/end", end_device),
            web.post("/devices/end-others", end_other_devices),
            *api_routes,
        ]
    )
    # The stylesheet is for everyone, logged in or not.
    service.public(app.router.add_static("/static", STATIC))  # pages.STYLESHEET
    return app
