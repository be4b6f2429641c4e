"""`AuthService.public` opens routes, never a handler wherever it is routed."""

from __future__ import annotations

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import Authenticated, AuthService, Requires

from .apps import HeaderPolicy, make_app
from .test_authorization import ARTICLE, groups


def as_user(user: str) -> dict[str, str]:
    return {"X-User": user}


async def shared(request: web.Request) -> web.Response:
    """One handler behind several routes."""
    return web.Response(text=f"{request.method} {request.path}")


class Catalog(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="catalog")

    async def post(self) -> web.Response:
        return web.Response(text="ordered")


def guarded_app() -> tuple[web.Application, AuthService]:
    app = make_app(HeaderPolicy(), groups=groups, default=Authenticated())
    return app, AuthService.of(app)


def resource_of(route: web.AbstractRoute) -> web.AbstractResource:
    assert route.resource is not None
    return route.resource


def report(app: web.Application) -> set[str]:
    return {str(r) for r in AuthService.of(app).routes_report(app)}


async def test_a_shared_handler_is_opened_on_one_resource_only(
    aiohttp_client: AiohttpClient,
) -> None:
    app, service = guarded_app()
    service.public(resource_of(app.router.add_get("/catalog", shared)))
    app.router.add_post("/admin/wipe", shared)
    app.router.add_get("/admin/stats", shared)
    client = await aiohttp_client(app)

    assert await (await client.get("/catalog")).text() == "GET /catalog"
    assert (await client.head("/catalog")).status == 200
    assert (await client.post("/admin/wipe")).status == 401
    assert (await client.get("/admin/stats")).status == 401
    assert (await client.post("/admin/wipe", headers=as_user("al"))).status == 200
    assert {
        "GET /catalog -> Public()",
        "POST /admin/wipe -> Authenticated() (default)",
        "GET /admin/stats -> Authenticated() (default)",
    } <= report(app)


async def test_a_view_class_is_opened_at_one_path_only(
    aiohttp_client: AiohttpClient,
) -> None:
    app, service = guarded_app()
    service.public(resource_of(app.router.add_view("/shop", Catalog)))
    app.router.add_view("/back-office", Catalog)
    client = await aiohttp_client(app)

    assert await (await client.get("/shop")).text() == "catalog"
    assert await (await client.post("/shop")).text() == "ordered"
    assert (await client.get("/back-office")).status == 401
    assert (await client.post("/back-office")).status == 401
    assert {
        "GET /shop -> Public()",
        "POST /shop -> Public()",
        "GET /back-office -> Authenticated() (default)",
        "POST /back-office -> Authenticated() (default)",
    } <= report(app)


async def test_one_route_of_a_resource(aiohttp_client: AiohttpClient) -> None:
    app, service = guarded_app()
    get = app.router.add_get("/items", shared)
    app.router.add_post("/items", shared)
    service.public(get)
    any_method = app.router.add_route("*", "/anything", shared)
    service.public(any_method)
    client = await aiohttp_client(app)

    assert (await client.get("/items")).status == 200
    assert (await client.head("/items")).status == 200  # the GET's HEAD route
    assert (await client.post("/items")).status == 401
    for method in ("GET", "POST", "DELETE"):
        assert (await client.request(method, "/anything")).status == 200, method
    lines = report(app)
    assert {"GET /items -> Public()", "POST /items -> Authenticated() (default)"} <= (
        lines
    )
    assert "* /anything -> Public()" in lines


async def test_a_resource_of_a_sub_application(aiohttp_client: AiohttpClient) -> None:
    app, service = guarded_app()
    sub = web.Application()
    opened = sub.router.add_get("/open", shared)
    sub.router.add_get("/closed", shared)
    sub_resource = app.add_subapp("/sub", sub)
    service.public(resource_of(opened))
    client = await aiohttp_client(app)

    assert (await client.get("/sub/open")).status == 200
    assert (await client.get("/sub/closed")).status == 401
    assert "GET /sub/open -> Public()" in report(app)
    with pytest.raises(TypeError, match="not a whole sub-application"):
        service.public(sub_resource)


async def test_before_setup_and_after_startup(aiohttp_client: AiohttpClient) -> None:
    app = web.Application()
    service = AuthService(HeaderPolicy(), default=Authenticated())
    early = app.router.add_resource("/early")
    early.add_route("GET", shared)
    service.public(early)
    service.setup(app)
    late = app.router.add_get("/late", shared)
    client = await aiohttp_client(app)

    assert (await client.get("/early")).status == 200
    assert (await client.get("/late")).status == 401
    service.public(late)
    assert (await client.get("/late")).status == 200


def test_a_resource_without_routes_opens_nothing_and_says_so() -> None:
    app, service = guarded_app()
    with pytest.raises(ValueError, match="no routes yet"):
        service.public(app.router.add_resource("/empty"))


async def test_public_leaves_a_routes_own_guard_in_place(
    aiohttp_client: AiohttpClient,
) -> None:
    app, service = guarded_app()
    edit = Requires("edit", ARTICLE)(shared)
    service.public(app.router.add_get("/edit", edit))
    client = await aiohttp_client(app)

    assert (await client.get("/edit", headers=as_user("al"))).status == 403
    assert (await client.get("/edit", headers=as_user("ed"))).status == 200
    assert "GET /edit -> Requires('edit', ...)" in report(app)


# Methods outside aiohttp's METH_ALL that even its C parser lets through (its
# pure-Python parser lets any token through).
OTHER_METHODS = ("PROPFIND", "MKCOL", "LOCK", "UNLOCK", "COPY", "MOVE", "PURGE")


async def test_other_methods_do_not_grow_the_route_cache(
    aiohttp_client: AiohttpClient,
) -> None:
    app, service = guarded_app()
    app.router.add_view("/catalog", Catalog)
    app.router.add_route("*", "/any", shared)
    client = await aiohttp_client(app)
    decided = service._routes  # pyright: ignore[reportPrivateUsage]

    for method in OTHER_METHODS:
        assert (await client.request(method, "/catalog")).status == 401
        assert (await client.request(method, "/any")).status == 401
        ed = as_user("ed")
        assert (await client.request(method, "/catalog", headers=ed)).status == 405
        assert (await client.request(method, "/any", headers=ed)).status == 200
    assert (await client.get("/any")).status == 401
    assert (await client.post("/catalog", headers=as_user("ed"))).status == 200
    # One entry for every other method of each route, and GET and POST.
    assert len(decided) == 4
