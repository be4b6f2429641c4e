"""Attacks on the request state, the view guards and composed services, each
through a real server."""

from __future__ import annotations

from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import Authenticated

from .apps import HeaderPolicy, make_app


class Page:
    async def get(self) -> web.Response:
        return web.Response(text="secret")


class OwnInit(Page, web.View):
    """A view that sets its request itself, never calling its base's
    `__init__`."""

    def __init__(self, request: web.Request) -> None:
        self._request = request


async def test_class_guards_run_on_views_whose_init_skips_the_base(
    aiohttp_client: AiohttpClient,
) -> None:
    class Guarded(OwnInit):
        guard = Authenticated()

    class GuardedBase(Page, web.View):
        guard = Authenticated()

    class Below(GuardedBase):
        def __init__(self, request: web.Request) -> None:
            object.__init__(self)
            self._request = request

    @Authenticated()
    class Decorated(OwnInit):
        pass

    async def delegate(request: web.Request) -> web.StreamResponse:
        return await Guarded(request)

    app = make_app(HeaderPolicy())
    for path, view in {
        "/own": Guarded,
        "/below": Below,
        "/decorated": Decorated,
    }.items():
        app.router.add_view(path, view)
    app.router.add_get("/delegate", delegate)
    client = await aiohttp_client(app)
    for path in ("/own", "/below", "/decorated", "/delegate"):
        assert (await client.get(path)).status == 401, path
        assert (await client.get(path, headers={"X-User": "ed"})).status == 200, path
