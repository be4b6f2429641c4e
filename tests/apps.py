"""Small aiohttp apps the tests run on real test servers."""

from __future__ import annotations

from aiohttp import web

from aiohttp_guard import (
    AbstractAuthentication,
    Authenticated,
    AuthService,
    forget,
    get_auth,
    remember,
)


async def login(request: web.Request) -> web.Response:
    """Logs in the user named by ?user=, answering 200."""
    await remember(request, request.query["user"])
    return web.Response(text="logged in")


async def login_redirect(request: web.Request) -> web.Response:
    """The usual login view: remember, then raise a redirect."""
    await remember(request, request.query["user"])
    raise web.HTTPFound("/whoami")


async def logout(request: web.Request) -> web.Response:
    await forget(request)
    return web.Response(text="logged out")


async def whoami(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


@Authenticated()
async def private(request: web.Request) -> web.Response:
    return web.Response(text=f"private for {await get_auth(request)}")


class HeaderPolicy(AbstractAuthentication):
    """A user's own policy: trusts an `X-User` header and counts lookups."""

    def __init__(self) -> None:
        self.lookups = 0

    async def remember(self, request: web.Request, user_id: str) -> None:
        raise web.HTTPNotImplemented()

    async def forget(self, request: web.Request) -> None:
        raise web.HTTPNotImplemented()

    async def get(self, request: web.Request) -> str | None:
        self.lookups += 1
        return request.headers.get("X-User")


def make_app(
    policy: AbstractAuthentication, **service_options: object
) -> web.Application:
    app = web.Application()
    AuthService(policy, **service_options).setup(app)  # type: ignore[arg-type]
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/login-redirect", login_redirect),
            web.get("/logout", logout),
            web.get("/whoami", whoami),
            web.get("/private", private),
        ]
    )
    return app
