"""A forgotten `setup()` is found before the first request: `check_app`
names the guarded routes that no service serves, `python -m aiohttp_guard
routes` prints the routes report or says in one line why it cannot, and a
guard run without a service says which route it guarded."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    ACL,
    Allow,
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    Everyone,
    Public,
    Requires,
    auth,
    check_app,
)

from .conftest import SECRET

NOTES: ACL[str] = ACL([(Allow, Everyone, "read")])


@Authenticated()
async def me(request: web.Request) -> web.Response:
    return web.Response(text="me")


@Public()
async def home(request: web.Request) -> web.Response:
    return web.Response(text="home")


async def about(request: web.Request) -> web.Response:
    return web.Response(text="about")


class Notes(web.View):
    guard = Requires("read", NOTES)

    async def get(self) -> web.Response:
        return web.Response(text="notes")

    @Authenticated()
    async def post(self) -> web.Response:
        return web.Response(text="saved")


def unserved_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/me", me)
    app.router.add_get("/", home)
    app.router.add_get("/about", about)
    app.router.add_view("/notes", Notes)
    return app


def service() -> AuthService:
    return AuthService(CookieTicketPolicy(SECRET, 3600))


# -- check_app ----------------------------------------------------------------


def test_check_app_names_every_guarded_route_without_a_service() -> None:
    with pytest.raises(RuntimeError) as raised:
        check_app(unserved_app())
    assert str(raised.value) == (
        "no AuthService serves these guarded routes, so each would answer 500: "
        "GET /me -> Authenticated(), GET /notes -> Requires('read', ...), "
        "POST /notes -> Requires('read', ...) & Authenticated(). Call "
        "AuthService(policy).setup(app) on their application, or on an "
        "application they are mounted in"
    )


def test_check_app_passes_an_app_with_its_service() -> None:
    app = unserved_app()
    service().setup(app)
    check_app(app)


def test_check_app_passes_an_app_without_guards_or_service() -> None:
    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/about", about)
    check_app(app)


def test_check_app_passes_a_middleware_listed_by_hand() -> None:
    app = web.Application(middlewares=[auth.auth_middleware(service().policy)])
    app.router.add_get("/me", me)
    check_app(app)


def test_a_service_serves_the_sub_applications_mounted_below_it() -> None:
    root = web.Application()
    service().setup(root)
    sub = unserved_app()
    root.add_subapp("/sub", sub)
    check_app(root)
    with pytest.raises(RuntimeError, match=r"GET /sub/me -> Authenticated\(\)"):
        check_app(sub)  # alone, it is unserved


def test_a_sub_applications_service_does_not_serve_its_parent() -> None:
    root = web.Application()
    root.router.add_get("/top", me)
    sub = unserved_app()
    service().setup(sub)
    other = web.Application()
    other.router.add_get("/me", me)
    root.add_subapp("/sub", sub)
    root.add_subapp("/other", other)
    with pytest.raises(RuntimeError) as raised:
        check_app(root)
    message = str(raised.value)
    assert "GET /top -> Authenticated(), GET /other/me -> Authenticated()." in message
    assert "/sub/" not in message


def test_check_app_refuses_class_guards_that_would_not_run() -> None:
    app = web.Application()

    class Handlers:
        guard = Authenticated()

        async def show(self, request: web.Request) -> web.Response:
            return web.Response(text="never guarded")

    app.router.add_get("/show", Handlers().show)
    with pytest.raises(TypeError, match="would never run"):
        check_app(app)


# -- the first request, when nothing checked ----------------------------------


@pytest.mark.parametrize(
    ("path", "guard"),
    [("/me", "Authenticated()"), ("/notes", "Requires('read', ...)")],
)
async def test_a_guard_without_a_service_names_its_route_in_the_error(
    aiohttp_client: AiohttpClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    guard: str,
) -> None:
    client = await aiohttp_client(unserved_app())
    with caplog.at_level(logging.ERROR, logger="aiohttp.server"):
        assert (await client.get(path)).status == 500
    (error,) = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert isinstance(error, RuntimeError)
    assert "call AuthService(policy).setup(app)" in str(error)
    assert error.__notes__ == [
        f"GET {path} is guarded by {guard}, and no AuthService is set up on "
        "its application or on any it is mounted in. "
        "aiohttp_guard.check_app(app) finds every such route before the app "
        "serves (python -m aiohttp_guard routes module:factory too)."
    ]


async def test_an_error_of_a_served_guard_gets_no_note(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Authenticated):
        async def check(self, request: web.Request) -> str:
            raise RuntimeError("broken")

    @Broken()
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="never")

    app = web.Application()
    service().setup(app)
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="aiohttp.server"):
        assert (await client.get("/")).status == 500
    (error,) = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert str(error) == "broken"
    assert not hasattr(error, "__notes__")


# -- python -m aiohttp_guard routes ---------------------------------------------

APP_MODULE = """
from aiohttp import web
from aiohttp_guard import Authenticated, AuthService, CookieTicketPolicy, Public


@Authenticated()
async def me(request: web.Request) -> web.Response:
    return web.Response(text="me")


@Public()
async def home(request: web.Request) -> web.Response:
    return web.Response(text="home")


def make_app(argv: list[str] | None = None) -> web.Application:
    app = web.Application()
    AuthService(
        CookieTicketPolicy(b"k" * 32, 3600), default=Authenticated()
    ).setup(app)
    app.add_routes([web.get("/", home), web.get("/me", me)])
    app.router.add_post("/settings", home.__wrapped__)
    return app


async def make_app_async() -> web.Application:
    return make_app()


def make_nested() -> web.Application:
    app = make_app()
    sub = web.Application()
    AuthService(CookieTicketPolicy(b"s" * 32, 60)).setup(sub)
    sub.router.add_get("/me", me)
    app.add_subapp("/api", sub)
    return app


def forgot_setup() -> web.Application:
    app = web.Application()
    app.router.add_get("/me", me)
    return app


def no_service() -> web.Application:
    app = web.Application()
    app.router.add_get("/", home)
    return app


def not_an_app() -> str:
    return "app"
"""


def routes(tmp_path: Path, entry: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "site_app.py").write_text(textwrap.dedent(APP_MODULE))
    return subprocess.run(  # noqa: S603 - this interpreter, on our own module
        [sys.executable, "-m", "aiohttp_guard", "routes", entry],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("factory", ["make_app", "make_app_async"])
def test_routes_prints_the_services_report(tmp_path: Path, factory: str) -> None:
    finished = routes(tmp_path, f"site_app:{factory}")
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [
        "GET / -> Public()",
        "GET /me -> Authenticated()",
        "POST /settings -> Authenticated() (default)",
    ]


def test_routes_prints_each_services_report(tmp_path: Path) -> None:
    finished = routes(tmp_path, "site_app:make_nested")
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0].startswith("AuthService(CookieTicketPolicy(")
    assert lines[0].endswith(" on /:")
    assert "GET /api/me -> Authenticated()" in lines
    assert lines[-2].endswith(" on /api:")
    assert lines[-1] == "GET /api/me -> Authenticated()"


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        (
            "site_app:forgot_setup",
            "site_app:forgot_setup: no AuthService serves these guarded routes, "
            "so each would answer 500: GET /me -> Authenticated(). Call "
            "AuthService(policy).setup(app) on their application, or on an "
            "application they are mounted in",
        ),
        (
            "site_app:no_service",
            "site_app:no_service: no AuthService is set up on this application: "
            "call AuthService(policy).setup(app)",
        ),
        (
            "site_app:not_an_app",
            "site_app:not_an_app: returned str, not a web.Application",
        ),
        ("site_app:missing", "site_app:missing: site_app has no function missing"),
        ("site_app", "site_app: give the app factory as module:function"),
    ],
)
def test_routes_says_in_one_line_why_it_cannot(
    tmp_path: Path, entry: str, said: str
) -> None:
    finished = routes(tmp_path, entry)
    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr == said + "\n"


def test_routes_says_when_the_module_cannot_be_imported(tmp_path: Path) -> None:
    finished = routes(tmp_path, "no_such_module:make_app")
    assert finished.returncode == 1
    assert finished.stderr.startswith("no_such_module:make_app: cannot import")
    assert finished.stderr.count("\n") == 1
