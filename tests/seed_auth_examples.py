# mypy: allow-untyped-defs, allow-untyped-calls
# pyright: basic
"""The authentication examples of the aiohttp_auth 0.1.1 documentation
(../shared/seed/), as written there but for the import path, with the lines the
page lost restored as its NOTES.md says. Left unannotated on purpose: old code
must keep working as it is."""

from os import urandom

from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from aiohttp_guard import auth

# Simplistic name/password map
db = {"user": "password", "super_user": "super_password"}


async def login_view(request):
    params = await request.post()
    user = params.get("username", None)
    if user in db and params.get("password", None) == db[user]:
        # User is in our database, remember their login details
        await auth.remember(request, user)
        return web.Response(body="OK".encode("utf-8"))  # noqa: UP012 - as documented

    raise web.HTTPForbidden()


async def check_explicitly_view(request):
    user = await auth.get_auth(request)
    if user is None:
        # Show login page
        return web.Response(body="Not authenticated".encode("utf-8"))  # noqa: UP012

    return web.Response(body="OK".encode("utf-8"))  # noqa: UP012


@auth.auth_required
async def check_implicitly_view(request):
    # HTTPForbidden is raised by the decorator if user is not valid
    return web.Response(body="OK".encode("utf-8"))  # noqa: UP012


@auth.auth_required
async def logout_view(request):
    await auth.forget(request)
    return web.Response(body="OK".encode("utf-8"))  # noqa: UP012


def add_routes(app: web.Application) -> web.Application:
    app.router.add_route("POST", "/login", login_view)
    app.router.add_route("GET", "/logout", logout_view)
    app.router.add_route("GET", "/test0", check_explicitly_view)
    app.router.add_route("GET", "/test1", check_implicitly_view)
    return app


def init_cookie() -> web.Application:
    # Create a auth ticket mechanism that expires after 1 minute (60
    # seconds), and has a randomly generated secret. Also includes the
    # optional inclusion of the users IP address in the hash
    policy = auth.CookieTktAuthentication(urandom(32), 60, include_ip=True)

    app = web.Application(middlewares=[auth.auth_middleware(policy)])
    return add_routes(app)


def init_session() -> web.Application:
    # Create a auth ticket mechanism that expires after 1 minute (60
    # seconds), and has a randomly generated secret. Also includes the
    # optional inclusion of the users IP address in the hash
    policy = auth.SessionTktAuthentication(urandom(32), 60, include_ip=True)

    middlewares = [
        session_middleware(EncryptedCookieStorage(urandom(32))),
        auth.auth_middleware(policy),
    ]

    app = web.Application(middlewares=middlewares)
    return add_routes(app)
