"""Requires, principals, combinators and secure-by-default, through a real server."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Literal

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    ACE,
    ACL,
    ALL_PERMISSIONS,
    AllOf,
    Allow,
    AnyOf,
    Authenticated,
    AuthenticatedUser,
    AuthService,
    CookieTicketPolicy,
    Decision,
    Deny,
    Everyone,
    Public,
    Requires,
    User,
    forget,
    remember,
)

from .apps import HeaderPolicy, make_app
from .conftest import SECRET

Perm = Literal["view", "edit", "admin"]

ARTICLE: ACL[Perm] = ACL(
    [
        (Allow, Everyone, "view"),
        (Deny, "banned", ALL_PERMISSIONS),
        (Allow, "editors", ("view", "edit")),
        ACE(Allow, User("root"), ALL_PERMISSIONS),
    ]
)

GROUPS: dict[str, tuple[Hashable, ...] | None] = {
    "ed": ("editors",),
    "eve": ("banned", "editors"),
    "editors": (),  # a user named like a group gains nothing from it
    "blocked": None,
}


async def groups(user_id: str | None) -> Iterable[Hashable] | None:
    return GROUPS.get(user_id or "", ())


def as_user(user: str | None) -> dict[str, str]:
    return {} if user is None else {"X-User": user}


def authz_app(**options: object) -> tuple[web.Application, HeaderPolicy]:
    policy = HeaderPolicy()
    app = make_app(policy, groups=groups, **options)

    @Requires("edit", ARTICLE)
    async def edit(request: web.Request) -> web.Response:
        return web.Response(text="edited")

    async def decision(request: web.Request) -> web.Response:
        proved = await Requires("edit", ARTICLE)(request)
        return web.Response(text=str(proved))

    async def principals(request: web.Request) -> web.Response:
        found = await AuthService.of(request).principals(request)
        again = await AuthService.of(request).principals(request)
        assert found is again
        return web.Response(
            text=repr(None if found is None else sorted(map(repr, found)))
        )

    app.add_routes(
        [
            web.get("/edit", edit),
            web.get("/decision", decision),
            web.get("/principals", principals),
        ]
    )
    return app, policy


@pytest.mark.parametrize(
    ("user", "status"),
    [
        (None, 401),  # anonymous: logging in might help
        ("alice", 403),
        ("ed", 200),
        ("eve", 403),  # banned is denied before the editors' Allow
        ("editors", 403),
        ("root", 200),
        ("blocked", 403),
    ],
)
async def test_requires_answers_by_principal(
    aiohttp_client: AiohttpClient, user: str | None, status: int
) -> None:
    client = await aiohttp_client(authz_app()[0])
    response = await client.get("/edit", headers=as_user(user))
    assert response.status == status
    if status == 403:
        assert response.reason == "'edit' is not permitted"


async def test_requires_proves_the_decision(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(authz_app()[0])
    text = await (await client.get("/decision", headers=as_user("ed"))).text()
    assert text.startswith(
        "allowed 'edit' by entry 2 ACE(Allow, 'editors', {'edit', 'view'})"
    )


async def test_a_permission_given_to_everyone_lets_anonymous_users_in(
    aiohttp_client: AiohttpClient,
) -> None:
    app, _ = authz_app()

    @Requires("view", ARTICLE)
    async def read(request: web.Request) -> web.Response:
        return web.Response(text="read")

    app.router.add_get("/read", read)
    client = await aiohttp_client(app)
    assert await (await client.get("/read")).text() == "read"
    assert (await client.get("/read", headers=as_user("eve"))).status == 200
    assert (await client.get("/read", headers=as_user("blocked"))).status == 403


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (None, "['Everyone']"),
        ("ed", "[\"'editors'\", 'AuthenticatedUser', 'Everyone', \"User('ed')\"]"),
        ("blocked", "None"),
    ],
)
async def test_principals_are_resolved_once(
    aiohttp_client: AiohttpClient, user: str | None, expected: str
) -> None:
    app, policy = authz_app()
    client = await aiohttp_client(app)
    assert (
        await (await client.get("/principals", headers=as_user(user))).text()
        == expected
    )
    assert policy.lookups == 1


async def test_sync_resolver_and_no_resolver(aiohttp_client: AiohttpClient) -> None:
    def sync_groups(user_id: str | None) -> list[str]:
        return ["editors"] if user_id else []

    app = make_app(HeaderPolicy(), groups=sync_groups)
    app.router.add_get("/edit", Requires("edit", ARTICLE)(whoami_handler))
    client = await aiohttp_client(app)
    assert (await client.get("/edit", headers=as_user("x"))).status == 200

    plain = make_app(HeaderPolicy())
    plain.router.add_get("/edit", Requires("edit", ARTICLE)(whoami_handler))
    plain.router.add_get("/view", Requires("view", ARTICLE)(whoami_handler))
    client = await aiohttp_client(plain)
    assert (await client.get("/edit", headers=as_user("x"))).status == 403
    assert (await client.get("/edit", headers=as_user("root"))).status == 200
    assert (await client.get("/view")).status == 200


async def whoami_handler(request: web.Request) -> web.Response:
    return web.Response(text=str(await AuthService.of(request).identify(request)))


async def test_resolver_errors_propagate_and_strings_are_refused(
    aiohttp_client: AiohttpClient,
) -> None:
    def broken(user_id: str | None) -> Iterable[Hashable] | None:
        if user_id == "str":
            return "editors"
        raise LookupError("directory down")

    app = make_app(HeaderPolicy(), groups=broken)
    app.router.add_get("/edit", Requires("edit", ARTICLE)(whoami_handler))
    client = await aiohttp_client(app)
    assert (await client.get("/edit", headers=as_user("x"))).status == 500
    assert (await client.get("/edit", headers=as_user("str"))).status == 500


def test_groups_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        AuthService(HeaderPolicy(), groups=("editors",))  # type: ignore[arg-type]


async def test_contexts_computed_from_the_request(
    aiohttp_client: AiohttpClient,
) -> None:
    def owner_acl(request: web.Request) -> list[ACE[str]]:
        return [ACE(Allow, User(request.match_info["owner"]), "edit")]

    async def async_owner_acl(request: web.Request) -> ACL[str]:
        return ACL([(Allow, User(request.match_info["owner"]), "edit")])

    app = make_app(HeaderPolicy())
    app.router.add_get("/sync/{owner}", Requires("edit", owner_acl)(whoami_handler))
    app.router.add_get(
        "/async/{owner}", Requires("edit", async_owner_acl)(whoami_handler)
    )
    client = await aiohttp_client(app)
    for kind in ("sync", "async"):
        assert (await client.get(f"/{kind}/ann", headers=as_user("ann"))).status == 200
        assert (await client.get(f"/{kind}/ann", headers=as_user("bob"))).status == 403


async def test_a_context_that_is_not_an_acl_is_a_clear_error(
    aiohttp_client: AiohttpClient,
) -> None:
    with pytest.raises(TypeError, match="an ACL context must be"):
        Requires("edit", "editors")  # type: ignore[arg-type]

    def wrong(request: web.Request) -> object:
        return 42

    app = make_app(HeaderPolicy())
    app.router.add_get("/wrong", Requires("edit", wrong)(whoami_handler))
    client = await aiohttp_client(app)
    assert (await client.get("/wrong")).status == 500


async def test_service_permits_answers_without_raising(
    aiohttp_client: AiohttpClient,
) -> None:
    async def check(request: web.Request) -> web.Response:
        decision: Decision[Perm] = await AuthService.of(request).permits(
            request, "edit", ARTICLE
        )
        listed = await AuthService.of(request).permits(
            request, "edit", [(Allow, AuthenticatedUser, "edit")]
        )
        return web.Response(text=f"{bool(decision)} {bool(listed)}")

    app, _ = authz_app()
    app.router.add_get("/check", check)
    client = await aiohttp_client(app)
    assert await (await client.get("/check")).text() == "False False"
    assert (
        await (await client.get("/check", headers=as_user("ed"))).text() == "True True"
    )


async def test_remember_and_forget_refresh_the_principals(
    aiohttp_client: AiohttpClient,
) -> None:
    async def switch(request: web.Request) -> web.Response:
        service = AuthService.of(request)
        seen = [await service.principals(request)]
        await remember(request, "ed")
        seen.append(await service.principals(request))
        await forget(request)
        seen.append(await service.principals(request))
        return web.Response(text=repr([len(s or ()) for s in seen]))

    app = make_app(CookieTicketPolicy(SECRET, 60), groups=groups)
    app.router.add_get("/switch", switch)
    client = await aiohttp_client(app)
    assert await (await client.get("/switch")).text() == "[1, 4, 1]"


# -- combinators -------------------------------------------------------------


async def test_any_of_and_all_of(aiohttp_client: AiohttpClient) -> None:
    editor_or_root = Requires("edit", ARTICLE) | Requires("admin", ARTICLE)
    both = AllOf(Authenticated(), Requires("admin", ARTICLE))

    async def proof(request: web.Request) -> web.Response:
        value = await both(request)
        return web.Response(text=f"{value[0]} {bool(value[1])}")

    app, _ = authz_app()
    app.add_routes(
        [
            web.get("/any", editor_or_root(whoami_handler)),
            web.get("/all", proof),
            web.get(
                "/and", (Authenticated() & Requires("view", ARTICLE))(whoami_handler)
            ),
        ]
    )
    client = await aiohttp_client(app)
    assert (await client.get("/any")).status == 401
    assert (await client.get("/any", headers=as_user("alice"))).status == 403
    assert (await client.get("/any", headers=as_user("ed"))).status == 200
    assert (await client.get("/all", headers=as_user("ed"))).status == 403
    assert (
        await (await client.get("/all", headers=as_user("root"))).text() == "root True"
    )
    assert (await client.get("/and")).status == 401
    assert (await client.get("/and", headers=as_user("alice"))).status == 200


def test_combinators_flatten_and_describe_themselves() -> None:
    a, b, c = Authenticated(), Requires("edit", ARTICLE), Public()
    either = a | b | c
    assert isinstance(either, AnyOf)
    assert len(either.guards) == 3
    assert repr(either) == "Authenticated() | Requires('edit', ...) | Public()"
    both = a & b & c
    assert len(both.guards) == 3
    assert (
        repr(AllOf(a, AnyOf(b, c)))
        == "Authenticated() & (Requires('edit', ...) | Public())"
    )
    with pytest.raises(ValueError, match="at least one"):
        AnyOf()
    with pytest.raises(ValueError, match="at least one"):
        AllOf()


# -- class-based views -----------------------------------------------------------


class Article(web.View):
    guard = Requires("view", ARTICLE)

    async def get(self) -> web.Response:
        return web.Response(text="article")

    @Requires("edit", ARTICLE)
    async def post(self) -> web.Response:
        return web.Response(text="saved")


async def test_method_guard_adds_to_the_class_guard(
    aiohttp_client: AiohttpClient,
) -> None:
    app, _ = authz_app()
    app.router.add_view("/article", Article)
    client = await aiohttp_client(app)
    assert await (await client.get("/article")).text() == "article"
    assert (await client.get("/article", headers=as_user("blocked"))).status == 403
    assert (await client.post("/article")).status == 401
    assert (await client.post("/article", headers=as_user("alice"))).status == 403
    assert (
        await (await client.post("/article", headers=as_user("ed"))).text() == "saved"
    )


# -- secure by default ---------------------------------------------------------


class OpenView(web.View):
    guard = Public()

    async def get(self) -> web.Response:
        return web.Response(text="open view")


class DefaultView(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="default view")

    @Public()
    async def post(self) -> web.Response:
        return web.Response(text="open post")


def default_app() -> web.Application:
    app, _ = authz_app(default=Authenticated())

    @Public()
    async def home(request: web.Request) -> web.Response:
        return web.Response(text="home")

    async def forgotten(request: web.Request) -> web.Response:
        return web.Response(text="forgotten")

    sub = web.Application()
    sub.router.add_get("/inside", forgotten)
    app.add_subapp("/sub", sub)
    app.add_routes(
        [
            web.get("/", home),
            web.get("/forgotten", forgotten),
            web.view("/open-view", OpenView),
            web.view("/default-view", DefaultView),
        ]
    )
    return app


async def test_default_guard_covers_routes_without_their_own(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(default_app())
    assert await (await client.get("/")).text() == "home"
    assert await (await client.get("/open-view")).text() == "open view"
    assert await (await client.post("/default-view")).text() == "open post"
    for path in ("/forgotten", "/whoami", "/sub/inside", "/default-view"):
        assert (await client.get(path)).status == 401, path
        assert (await client.get(path, headers=as_user("al"))).status == 200, path
    # a route's own guard replaces the default
    assert (await client.get("/edit", headers=as_user("al"))).status == 403
    assert (await client.get("/edit", headers=as_user("ed"))).status == 200
    # unknown routes stay 404, wrong methods 405
    assert (await client.get("/nowhere")).status == 404
    assert (await client.delete("/")).status == 405


async def test_routes_report_and_startup_log(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    app = default_app()
    service = AuthService.of(app)
    lines = {f"{r.method} {r.path}": r for r in service.routes_report(app)}
    assert str(lines["GET /"]) == "GET / -> Public()"
    assert str(lines["GET /edit"]) == "GET /edit -> Requires('edit', ...)"
    assert str(lines["GET /forgotten"]) == "GET /forgotten -> Authenticated() (default)"
    assert lines["GET /sub/inside"].by_default
    assert str(lines["GET /open-view"]) == "GET /open-view -> Public()"
    assert str(lines["POST /default-view"]) == "POST /default-view -> Public()"
    assert lines["GET /default-view"].by_default

    no_default = make_app(HeaderPolicy())
    no_default.router.add_view("/article", Article)
    report = {str(r) for r in AuthService.of(no_default).routes_report(no_default)}
    assert "GET /whoami -> UNGUARDED" in report
    assert "GET /private -> Authenticated()" in report
    assert "GET /article -> Requires('view', ...)" in report
    assert "POST /article -> Requires('view', ...) & Requires('edit', ...)" in report

    with caplog.at_level(logging.INFO, logger="aiohttp_guard"):
        await aiohttp_client(no_default)
    assert "GET /private -> Authenticated()" in caplog.text
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    assert "GET /whoami" in warning[0].getMessage()


async def test_static_files_can_be_opened_under_a_default_guard(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    (tmp_path / "site.css").write_text("body {}")
    (tmp_path / "private").mkdir()
    app = make_app(HeaderPolicy(), default=Authenticated())
    service = AuthService.of(app)
    service.public(app.router.add_static("/static", tmp_path, name="static"))
    app.router.add_static("/files", tmp_path / "private")
    client = await aiohttp_client(app)

    assert await (await client.get("/static/site.css")).text() == "body {}"
    assert (await client.get("/files/anything")).status == 401  # still guarded
    assert (await client.get("/whoami")).status == 401
    report = {str(r) for r in service.routes_report(app)}
    assert "GET /static -> Public()" in report
    assert "GET /files -> Authenticated() (default)" in report
