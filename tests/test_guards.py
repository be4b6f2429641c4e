"""Guards on function handlers, view methods and view classes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Authenticated,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    Guard,
    TicketCodec,
)

from .apps import HeaderPolicy, make_app
from .conftest import OTHER_SECRET, SECRET, Clock

POLICY = CookieTicketPolicy(SECRET, 3600)


class Article(web.View):
    guard = Authenticated()

    async def get(self) -> web.Response:
        return web.Response(text="article")


class EditableArticle(Article):
    async def post(self) -> web.Response:  # inherits the class guard
        return web.Response(text="saved")


class PublicReadView(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="anyone")

    @Authenticated()
    async def post(self) -> web.Response:
        return web.Response(text="member")


@Authenticated()
class Decorated(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="decorated")


class Unguarded(Article):
    guard = None  # type: ignore[assignment]


class Handlers:
    """Handlers as methods of an object, as some apps organise them."""

    @Authenticated()
    async def show(self, request: web.Request) -> web.Response:
        return web.Response(text="method")


async def is_admin(request: web.Request) -> str:
    """A plain async function is a guard too."""
    user = await AuthService.of(request).identify(request)
    if user != "admin":
        raise web.HTTPForbidden()
    return user


class AdminView(web.View):
    guard: Guard[str] = is_admin

    async def get(self) -> web.Response:
        return web.Response(text="admin area")


def guarded_app() -> web.Application:
    app = make_app(POLICY)
    handlers = Handlers()
    app.add_routes(
        [
            web.view("/article", Article),
            web.view("/editable", EditableArticle),
            web.view("/public-read", PublicReadView),
            web.view("/decorated", Decorated),
            web.view("/unguarded", Unguarded),
            web.view("/admin", AdminView),
            web.get("/method", handlers.show),
        ]
    )
    return app


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/article", "article"),
        ("GET", "/editable", "article"),
        ("POST", "/editable", "saved"),
        ("POST", "/public-read", "member"),
        ("GET", "/decorated", "decorated"),
        ("GET", "/method", "method"),
    ],
)
async def test_guarded_routes_refuse_anonymous_and_admit_users(
    aiohttp_client: AiohttpClient, method: str, path: str, body: str
) -> None:
    client = await aiohttp_client(guarded_app())
    assert (await client.request(method, path)).status == 401
    await client.get("/login", params={"user": "alice"})
    response = await client.request(method, path)
    assert response.status == 200
    assert await response.text() == body


async def test_unguarded_parts_stay_open(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(guarded_app())
    assert await (await client.get("/public-read")).text() == "anyone"
    assert await (await client.get("/unguarded")).text() == "article"


async def test_a_function_guard_on_a_view_class(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(guarded_app())
    await client.get("/login", params={"user": "alice"})
    assert (await client.get("/admin")).status == 403
    await client.get("/login", params={"user": "admin"})
    assert await (await client.get("/admin")).text() == "admin area"


async def test_awaiting_a_guard_returns_what_it_proved(
    aiohttp_client: AiohttpClient,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        return web.Response(text=f"proved {user_id}")

    app = make_app(POLICY)
    app.router.add_get("/proved", handler)
    client = await aiohttp_client(app)
    assert (await client.get("/proved")).status == 401
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/proved")).text() == "proved alice"


async def test_fresh_within_demands_a_recent_login_not_a_reissue(
    aiohttp_client: AiohttpClient,
) -> None:
    @Authenticated(fresh_within=timedelta(minutes=5))
    async def change_password(request: web.Request) -> web.Response:
        return web.Response(text="changed")

    app = make_app(POLICY)
    app.router.add_get("/password", change_password)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/password")).text() == "changed"

    codec = TicketCodec(SECRET)
    now = codec.now_ms()
    stale = codec.issue(
        "alice", 3600, login_ms=now - 6 * 60 * 1000
    )  # a reissued ticket
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"AUTH_TKT": codec.encode(stale)})
    assert await (await client.get("/whoami")).text() == "alice"
    assert (await client.get("/password")).status == 401


@Authenticated(fresh_within=timedelta(minutes=5))
async def change_password(request: web.Request) -> web.Response:
    return web.Response(text="changed")


async def test_fresh_within_reads_the_clock_of_the_policy_that_issued_the_login(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()  # years away from the system clock
    app = make_app(CookieTicketPolicy(TicketCodec(SECRET, clock=clock), 3600))
    app.router.add_get("/password", change_password)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    assert (await client.get("/password")).status == 200
    clock.now += 6 * 60
    assert await (await client.get("/whoami")).text() == "alice"
    assert (await client.get("/password")).status == 401


async def test_fresh_within_in_a_chain_reads_the_clock_of_the_policy_that_identified(
    aiohttp_client: AiohttpClient,
) -> None:
    cookie_clock, bearer_clock = Clock(1_700_010_000.0), Clock()
    cookie = CookieTicketPolicy(TicketCodec(SECRET, clock=cookie_clock), 3600)
    bearer = BearerTicketPolicy(TicketCodec(OTHER_SECRET, clock=bearer_clock), 3600)
    app = make_app([cookie, bearer])  # type: ignore[arg-type]
    app.router.add_get("/password", change_password)
    client = await aiohttp_client(app)
    token = bearer.codec.encode(bearer.ticket_for("alice", None))
    headers = {"Authorization": f"Bearer {token}"}
    # Fresh by the bearer policy's clock, which issued it; the cookie
    # policy's clock, first in the chain, is hours ahead.
    assert (await client.get("/password", headers=headers)).status == 200
    bearer_clock.now += 6 * 60
    assert (await client.get("/password", headers=headers)).status == 401


async def test_fresh_within_fails_closed_when_the_policy_cannot_tell(
    aiohttp_client: AiohttpClient,
) -> None:
    @Authenticated(fresh_within=60)
    async def sensitive(request: web.Request) -> web.Response:
        return web.Response(text="done")

    app = make_app(HeaderPolicy())
    app.router.add_get("/sensitive", sensitive)
    client = await aiohttp_client(app)
    assert (await client.get("/sensitive", headers={"X-User": "al"})).status == 401


def test_a_guard_named_like_an_http_method_is_refused() -> None:
    # Python 3.11 wraps errors from __set_name__ in a RuntimeError.
    with pytest.raises((TypeError, RuntimeError)) as info:

        class Wrong(web.View):  # pyright: ignore[reportUnusedClass]
            post = Authenticated()

    error = info.value.__cause__ or info.value
    assert isinstance(error, TypeError)
    assert "Wrong.post is named like an HTTP method" in str(error)


def test_a_guard_on_a_plain_class_attribute_is_inert() -> None:
    class Settings:
        default_guard = Authenticated()

    assert isinstance(Settings.default_guard, Authenticated)


def test_guards_refuse_what_they_cannot_guard() -> None:
    with pytest.raises(TypeError, match="not int"):
        Authenticated()(42)  # type: ignore[call-overload]


async def test_a_guarded_callable_needs_a_request(
    aiohttp_client: AiohttpClient,
) -> None:
    @Authenticated()
    async def odd(value: int) -> int:
        return value

    with pytest.raises(TypeError, match=r"request or a web\.View"):
        await odd(1)


def test_fresh_within_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Authenticated(fresh_within=0)
    with pytest.raises(ValueError, match="negative"):
        Authenticated(fresh_within=timedelta(seconds=-1))


def test_repr() -> None:
    assert repr(Authenticated()) == "Authenticated()"
    assert repr(Authenticated(fresh_within=timedelta(minutes=5))) == (
        "Authenticated(fresh_within=datetime.timedelta(seconds=300))"
    )
