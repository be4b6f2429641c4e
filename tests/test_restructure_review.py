"""Attacks on the request state, the view guards and composed services, each
through a real server."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    RedisRevocationStore,
    acl,
    get_auth,
)
from aiohttp_guard.testing import ticket_cookie

from .apps import HeaderPolicy, make_app
from .conftest import SECRET


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


# -- the request's context outlives a bare state made before the service -----


def access_log(seen: list[str | None]) -> Middleware:
    """A middleware that writes down who the request came from once it is
    answered, as access logs do."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        seen.append(await get_auth(request))
        return response

    return middleware


async def groups_page(request: web.Request) -> web.Response:
    return web.Response(
        text=repr(sorted(map(str, await acl.get_user_groups(request) or ())))
    )


@pytest.mark.parametrize("nested", [False, True])
async def test_an_acl_middleware_before_the_service_keeps_its_context(
    aiohttp_client: AiohttpClient, nested: bool
) -> None:
    """`acl_middleware` listed before the service (as `setup` appends the
    service's middleware): a middleware listed before both still finds who
    the request came from once it is answered, as it does without the acl
    layer."""
    policy = CookieTicketPolicy(SECRET, 600)
    seen: list[str | None] = []
    app = web.Application(
        middlewares=[access_log(seen), acl.acl_middleware(lambda user_id: ("g",))]
    )
    served = web.Application() if nested else app
    AuthService(policy).setup(served)
    served.router.add_get("/page", groups_page)
    if nested:
        app.add_subapp("/sub", served)
    client = await aiohttp_client(app)
    path = "/sub/page" if nested else "/page"
    response = await client.get(path, cookies=ticket_cookie(policy, "alice"))
    assert response.status == 200
    # A parent app's callback is not a sub-application's service's.
    assert ("'g'" in await response.text()) is not nested
    assert seen == ["alice"]


# -- nested services share revocations whatever the order of setup -----------


async def whoami(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


@pytest.mark.parametrize("services_first", [True, False])
async def test_three_levels_of_services_share_one_store_whatever_the_order(
    aiohttp_client: AiohttpClient,
    caplog: pytest.LogCaptureFixture,
    services_first: bool,
) -> None:
    """Three nested apps, each with a service on the same secret and no store
    of its own: a logout_everywhere refuses the user's tickets in all three,
    whether each service was set up before or after its sub-application was
    added."""
    policy = CookieTicketPolicy(SECRET, 600)
    root, mid, leaf = web.Application(), web.Application(), web.Application()
    root_service = AuthService(policy)
    mid_service = AuthService(CookieTicketPolicy(SECRET, 600))
    AuthService(CookieTicketPolicy(SECRET, 600)).setup(leaf)
    for app in (root, mid, leaf):
        app.router.add_get("/whoami", whoami)

    async def everywhere(request: web.Request) -> web.Response:
        await root_service.logout_everywhere("alice")
        return web.Response(text="done")

    root.router.add_post("/everywhere", everywhere)
    if services_first:
        mid_service.setup(mid)
        mid.add_subapp("/leaf", leaf)
        root_service.setup(root)
        root.add_subapp("/mid", mid)
    else:
        mid.add_subapp("/leaf", leaf)
        mid_service.setup(mid)
        root.add_subapp("/mid", mid)
        root_service.setup(root)
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        client = await aiohttp_client(root)
    assert not [r for r in caplog.records if "another store" in r.getMessage()]
    stolen = ticket_cookie(policy, "alice")
    paths = ("/whoami", "/mid/whoami", "/mid/leaf/whoami")
    for path in paths:
        assert await (await client.get(path, cookies=stolen)).text() == "alice"
    await client.post("/everywhere")
    for path in paths:
        response = await client.get(path, cookies=stolen)
        assert await response.text() == "None", path


@pytest.mark.parametrize("revoking", ["parent", "sub"])
@pytest.mark.parametrize("given", [False, True])
async def test_a_shared_revocation_lives_as_long_as_either_services_tickets(
    aiohttp_client: AiohttpClient,
    redis_client: Redis,
    redis_prefix: str,
    revoking: str,
    given: bool,
) -> None:
    """A parent app's service whose tickets live an hour and a
    sub-application's on the same secret whose tickets live a minute share
    one store (taken from the parent, or given to both): a logout_everywhere
    through either is kept as long as the parent's tickets can live, else
    the parent's stolen tickets would be accepted again after two minutes."""
    store = RedisRevocationStore(redis_client, prefix=redis_prefix)
    parent, sub = web.Application(), web.Application()
    services = {
        "parent": AuthService(CookieTicketPolicy(SECRET, 3600), revocations=store),
        "sub": AuthService(
            CookieTicketPolicy(SECRET, 60), revocations=store if given else None
        ),
    }
    services["parent"].setup(parent)
    services["sub"].setup(sub)

    async def everywhere(request: web.Request) -> web.Response:
        await services[revoking].logout_everywhere("alice")
        return web.Response(text="done")

    sub.router.add_post("/everywhere", everywhere)
    parent.add_subapp("/sub", sub)
    client = await aiohttp_client(parent)
    assert (await client.post("/sub/everywhere")).status == 200
    assert await redis_client.pttl(f"{redis_prefix}alice") > 3600 * 1000
