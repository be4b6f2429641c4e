"""The login page is never guarded into a redirect loop: the service's
default guard leaves it open, a guard of its own is refused at startup, and
no refusal sends a browser from the login page to the login page."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    DefaultErrorHandler,
    Public,
    get_auth,
    remember,
)

from .conftest import SECRET

HTML = {"Accept": "text/html"}


async def login_form(request: web.Request) -> web.Response:
    return web.Response(text=f"login form for {await get_auth(request)}")


async def login_post(request: web.Request) -> web.Response:
    await remember(request, (await request.post())["user"])  # type: ignore[arg-type]
    raise web.HTTPFound("/home")


async def home(request: web.Request) -> web.Response:
    return web.Response(text=f"home of {await get_auth(request)}")


def login_app(login_url: str = "/login", **routes: object) -> web.Application:
    app = web.Application()
    AuthService(
        CookieTicketPolicy(SECRET, 3600), default=Authenticated(), login_url=login_url
    ).setup(app)
    app.add_routes(
        [
            web.get("/login", routes.get("form", login_form)),  # type: ignore[arg-type]
            web.post("/login", login_post),
            web.get("/home", home),
        ]
    )
    return app


async def test_the_default_guard_leaves_the_login_page_open(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(login_app())
    home_page = await client.get("/home", headers=HTML, allow_redirects=False)
    assert home_page.status == 302
    assert home_page.headers["Location"] == "/login?next=/home"
    form = await client.get("/login?next=/home", headers=HTML, allow_redirects=False)
    assert form.status == 200
    assert await form.text() == "login form for None"
    logged_in = await client.post("/login", data={"user": "alice"})
    assert await logged_in.text() == "home of alice"


async def test_the_routes_report_says_why_the_login_page_is_open() -> None:
    app = login_app()
    report = {str(r) for r in AuthService.of(app).routes_report(app)}
    assert "GET /login -> Public() (login_url)" in report
    assert "POST /login -> Public() (login_url)" in report
    assert "GET /home -> Authenticated() (default)" in report


async def test_a_login_page_in_a_sub_application_is_open(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application()
    AuthService(
        CookieTicketPolicy(SECRET, 3600),
        default=Authenticated(),
        login_url="/account/login",
    ).setup(app)
    account = web.Application()
    account.router.add_get("/login", login_form)
    account.router.add_get("/settings", home)
    app.add_subapp("/account", account)
    client = await aiohttp_client(app)
    assert (await client.get("/account/login", headers=HTML)).status == 200
    settings = await client.get("/account/settings", allow_redirects=False)
    assert settings.status == 401
    # The same path on another site is not this app's login page.
    elsewhere = await client.get(
        "/account/settings", headers=HTML, allow_redirects=False
    )
    assert elsewhere.headers["Location"] == "/account/login?next=/account/settings"


@pytest.mark.parametrize(
    "guarded_form",
    [Authenticated()(login_form), Authenticated()(Public()(login_form))],
)
async def test_a_login_page_with_a_guard_of_its_own_does_not_start(
    guarded_form: object,
) -> None:
    runner = web.AppRunner(login_app(form=guarded_form))
    try:
        with pytest.raises(
            RuntimeError, match=r"GET /login is guarded by Authenticated"
        ):
            await runner.setup()
    finally:
        await runner.cleanup()


async def test_a_public_login_page_starts(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(login_app(form=Public()(login_form)))
    assert (await client.get("/login", headers=HTML)).status == 200


async def test_no_redirect_from_the_login_page_to_itself(
    aiohttp_client: AiohttpClient,
) -> None:
    async def checks_inside(request: web.Request) -> web.Response:
        # A check made by the handler itself, which no startup check sees.
        await Authenticated()(request)
        return web.Response(text="form")

    client = await aiohttp_client(login_app(form=checks_inside))
    response = await client.get("/login", headers=HTML, allow_redirects=False)
    assert response.status == 401
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("login_url", "status"),
    [
        # On this host: the login page itself, answered 401.
        ("http://127.0.0.1:{port}/login", 401),
        # Another site's login page, at the same path: sent there.
        ("https://sso.example/login", 302),
    ],
)
async def test_an_absolute_login_url_is_the_login_page_on_its_own_host_only(
    aiohttp_client: AiohttpClient, login_url: str, status: int
) -> None:
    async def checks_inside(request: web.Request) -> web.Response:
        await Authenticated()(request)
        return web.Response(text="form")

    app = web.Application()
    handler = DefaultErrorHandler(login_url="https://placeholder.example/login")
    AuthService(CookieTicketPolicy(SECRET, 3600), error_handler=handler).setup(app)
    app.router.add_get("/login", checks_inside)
    client = await aiohttp_client(app)
    port = client.make_url("/").port
    service = AuthService.of(app)
    service.error_handler = DefaultErrorHandler(login_url=login_url.format(port=port))
    response = await client.get("/login", headers=HTML, allow_redirects=False)
    assert response.status == status


# -- an absolute login_url: which route is the login page is the user's to say


async def started_with_warnings(
    app: web.Application, caplog: pytest.LogCaptureFixture
) -> list[str]:
    """The warnings `app`'s service logs as the app starts."""
    runner = web.AppRunner(app)
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        try:
            await runner.setup()
        finally:
            await runner.cleanup()
    return [r.getMessage() for r in caplog.records if "login_url" in r.getMessage()]


def absolute_login_app(**handlers: object) -> web.Application:
    app = web.Application()
    AuthService(
        CookieTicketPolicy(SECRET, 3600),
        default=Authenticated(),
        login_url="https://www.example.com/login",
    ).setup(app)
    for method, handler in handlers.items():
        app.router.add_route(method.upper(), "/login", handler)  # type: ignore[arg-type]
    return app


async def test_an_absolute_login_url_names_the_route_to_open_and_the_open_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = absolute_login_app(get=login_form, post=Public()(login_post))
    assert await started_with_warnings(app, caplog) == [
        "aiohttp_guard: login_url 'https://www.example.com/login' is an absolute "
        "URL, which may name another site, so the routes at its path /login are "
        "not opened for the login page; GET /login stays under the default guard "
        "Authenticated(): if this app serves its login page there, decorate that "
        "handler with Public() (or open the route with service.public(route)), or "
        "give login_url as the path '/login'; already open there: POST /login"
    ]


async def test_an_absolute_login_url_names_a_route_closed_by_its_own_guard(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = absolute_login_app(get=Authenticated()(login_form))
    (warning,) = await started_with_warnings(app, caplog)
    assert warning.endswith(
        "; GET /login is guarded by Authenticated(), which would refuse the "
        "browsers sent there to log in: if that is the login page, remove its "
        "guards (Public() does not open a route beside a guard that checks)"
    )


async def test_an_absolute_login_url_whose_routes_are_open_starts_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = absolute_login_app(get=Public()(login_form))
    service = AuthService.of(app)
    service.public(app.router.add_post("/login", login_post))
    assert await started_with_warnings(app, caplog) == []
    assert [str(r) for r in service.routes_report(app)] == [
        "GET /login -> Public()",
        "POST /login -> Public()",
    ]
