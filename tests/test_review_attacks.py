"""Adversarial tests of the library's guarantees through a real server: the
memory store's no-entry shortcut, the login page left open by the default
guard, the redirect-loop check, the audit log and the middleware's writing
of tickets. A passing test is a guarantee that held; these fail, each a
weakness found in review:

- test_a_static_directory_at_the_login_path_is_not_opened_whole
- test_an_absolute_login_url_on_this_site_never_loops
- test_a_legacy_refusal_in_a_nested_service_is_logged_once
- test_a_405_on_a_dynamic_route_does_not_log_its_token
- test_an_unmatched_path_cannot_forge_audit_lines
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    ACL,
    AllOf,
    Allow,
    AnyOf,
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    MemoryRevocationStore,
    Public,
    RedisRevocationStore,
    Requires,
    TicketCodec,
    User,
    acl,
    auth,
    forget,
    get_auth,
    remember,
)

from .conftest import SECRET, Clock
from .cookies import set_cookies

AUDIT = "aiohttp_guard.audit"
HTML = {"Accept": "text/html"}


# -- helpers --------------------------------------------------------------------


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger=AUDIT):
        yield caplog


def audited(caplog: pytest.LogCaptureFixture, kind: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == f"{AUDIT}.{kind}"]


async def login(request: web.Request) -> web.Response:
    await remember(request, request.query["user"])
    return web.Response(text="logged in")


async def whoami(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


async def everywhere(request: web.Request) -> web.Response:
    await AuthService.of(request).logout_everywhere(request.query["user"])
    return web.Response(text="revoked")


@Authenticated()
async def private(request: web.Request) -> web.Response:
    return web.Response(text=f"private for {await get_auth(request)}")


def service_app(**options: object) -> web.Application:
    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 3600), **options).setup(app)  # type: ignore[arg-type]
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/whoami", whoami),
            web.get("/everywhere", everywhere),
            web.get("/private", private),
        ]
    )
    return app


def bare_app() -> web.Application:
    app = web.Application()
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/whoami", whoami),
            web.get("/everywhere", everywhere),
            web.get("/private", private),
        ]
    )
    return app


# == 1. the memory store's no-entry shortcut ======================================


@pytest.mark.parametrize("order", ["sub-first", "parent-first", "mount-first"])
async def test_a_revocation_by_the_parent_is_refused_by_a_sub_application(
    aiohttp_client: AiohttpClient, order: str
) -> None:
    app, sub = bare_app(), bare_app()
    parent_service = AuthService(CookieTicketPolicy(SECRET, 3600))
    sub_service = AuthService(CookieTicketPolicy(SECRET, 7200))
    if order == "sub-first":
        sub_service.setup(sub)
        parent_service.setup(app)
        app.add_subapp("/sub", sub)
    elif order == "parent-first":
        parent_service.setup(app)
        sub_service.setup(sub)
        app.add_subapp("/sub", sub)
    else:  # the sub-application set up and mounted before the parent's setup
        sub_service.setup(sub)
        app.add_subapp("/sub", sub)
        parent_service.setup(app)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    ticket = client.session.cookie_jar.filter_cookies(client.make_url("/"))["AUTH_TKT"]
    assert await (await client.get("/sub/whoami")).text() == "alice"
    await client.get("/sub/everywhere", params={"user": "alice"})
    for path in ("/whoami", "/sub/whoami"):
        answer = await client.get(path, cookies={"AUTH_TKT": ticket.value})
        assert await answer.text() == "None", path


async def test_sibling_services_sharing_one_memory_store_see_each_others_revocations(
    aiohttp_client: AiohttpClient,
) -> None:
    store = MemoryRevocationStore()
    app, a, b = web.Application(), bare_app(), bare_app()
    AuthService(CookieTicketPolicy(SECRET, 3600), revocations=store).setup(a)
    AuthService(CookieTicketPolicy(SECRET, 3600), revocations=store).setup(b)
    app.add_subapp("/a", a)
    app.add_subapp("/b", b)
    client = await aiohttp_client(app)
    await client.get("/a/login", params={"user": "alice"})
    ticket = client.session.cookie_jar.filter_cookies(client.make_url("/"))["AUTH_TKT"]
    assert await (await client.get("/b/whoami")).text() == "alice"
    await client.get("/a/everywhere", params={"user": "alice"})
    answer = await client.get("/b/whoami", cookies={"AUTH_TKT": ticket.value})
    assert await answer.text() == "None"


class BanListStore(MemoryRevocationStore):
    """A memory store that also refuses users banned elsewhere (an external
    list): its own `not_before` must always be asked."""

    __slots__ = ("banned",)

    def __init__(self) -> None:
        super().__init__()
        self.banned: set[str] = set()

    async def not_before(self, user_id: str) -> int | None:
        if user_id in self.banned:
            return 2**62
        return await super().not_before(user_id)


async def test_a_memory_store_subclass_with_its_own_look_up_is_always_asked(
    aiohttp_client: AiohttpClient,
) -> None:
    store = BanListStore()
    client = await aiohttp_client(service_app(revocations=store))
    await client.get("/login", params={"user": "mallory"})
    assert await (await client.get("/whoami")).text() == "mallory"
    store.banned.add("mallory")
    assert await (await client.get("/whoami")).text() == "None"


class PreloadedStore(MemoryRevocationStore):
    """A memory store whose entries are loaded at start (from a file)."""

    __slots__ = ()

    def __init__(self, preload: dict[str, int]) -> None:
        super().__init__()
        for user_id, not_before in preload.items():
            self._entries[user_id] = (not_before, float("inf"))


async def test_a_memory_store_preloaded_with_entries_is_consulted(
    aiohttp_client: AiohttpClient,
) -> None:
    codec = TicketCodec(SECRET, clock=Clock())
    store = PreloadedStore({"alice": 2_000_000_000_000})
    client = await aiohttp_client(_codec_app(codec, store))
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/whoami")).text() == "None"


def _codec_app(codec: TicketCodec, store: MemoryRevocationStore) -> web.Application:
    app = bare_app()
    AuthService(CookieTicketPolicy(codec, 3600), revocations=store).setup(app)
    return app


async def test_a_memory_store_is_a_slotted_object_whose_look_up_cannot_be_patched() -> (
    None
):
    store = MemoryRevocationStore()
    with pytest.raises(AttributeError):
        store.not_before = lambda user_id: 0  # type: ignore[assignment, method-assign, return-value]  # pyright: ignore[reportAttributeAccessIssue]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url("redis://127.0.0.1:6379/0")  # pyright: ignore[reportUnknownMemberType]
    yield client
    await client.aclose()


async def test_a_revocation_in_redis_by_one_instance_is_refused_by_another(
    aiohttp_client: AiohttpClient, redis: Redis
) -> None:
    prefix = f"aiohttp_guard-review:{uuid.uuid4().hex}:"
    try:
        one = service_app(revocations=RedisRevocationStore(redis, prefix=prefix))
        two = service_app(revocations=RedisRevocationStore(redis, prefix=prefix))
        first, second = await aiohttp_client(one), await aiohttp_client(two)
        await first.get("/login", params={"user": "alice"})
        ticket = first.session.cookie_jar.filter_cookies(first.make_url("/"))[
            "AUTH_TKT"
        ]
        cookies = {"AUTH_TKT": ticket.value}
        assert await (await second.get("/whoami", cookies=cookies)).text() == "alice"
        await second.get("/everywhere", params={"user": "alice"})
        await asyncio.sleep(0.1)  # the stores' max_lag: the bound for another one
        assert await (await first.get("/whoami", cookies=cookies)).text() == "None"
    finally:
        keys: list[bytes] = [
            k
            async for k in redis.scan_iter(match=prefix + "*")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        ]
        if keys:
            await redis.delete(*keys)


async def test_a_revocation_during_a_request_stops_its_renewal(
    aiohttp_client: AiohttpClient,
) -> None:
    """The identity was resolved without a look-up (no entry yet); a
    logout_everywhere lands while the handler runs: no renewed ticket."""
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        user = await get_auth(request)
        entered.set()
        await release.wait()
        return web.Response(text=str(user))

    app = web.Application()
    AuthService(CookieTicketPolicy(codec, 3600, reissue_time=600)).setup(app)
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/slow", slow),
            web.get("/everywhere", everywhere),
        ]
    )
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 3100  # the ticket wants renewal
    slow_answer = asyncio.ensure_future(client.get("/slow"))
    await entered.wait()
    await client.get("/everywhere", params={"user": "alice"})
    release.set()
    answer = await slow_answer
    assert answer.status == 200
    renewed = set_cookies(answer).get("AUTH_TKT")
    assert renewed is None or renewed.value == ""


# == 2. the login page left open by the default guard ============================


def guarded_app(login_url: str) -> web.Application:
    """An app whose service guards every route by default and sends
    browsers to `login_url`; no routes yet."""
    app = web.Application()
    AuthService(
        CookieTicketPolicy(SECRET, 3600), default=Authenticated(), login_url=login_url
    ).setup(app)
    return app


def login_app(login_url: str, *extra: web.RouteDef) -> web.Application:
    app = guarded_app(login_url)

    async def form(request: web.Request) -> web.Response:
        return web.Response(text="login form")

    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    app.add_routes([web.get("/login", form), web.get("/admin", secret), *extra])
    return app


@pytest.mark.parametrize("login_url", ["/login", "/login?mode=form", "/login#top"])
async def test_only_the_login_path_is_opened_whatever_the_query_or_fragment(
    aiohttp_client: AiohttpClient, login_url: str
) -> None:
    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    client = await aiohttp_client(
        login_app(
            login_url,
            web.get("/login/", secret),
            web.get("/login2", secret),
            web.get("/login/{x}", secret),
            web.post("/loginx", secret),
        )
    )
    assert (await client.get("/login")).status == 200
    assert (await client.head("/login")).status == 200
    for method, path in [
        ("GET", "/login/"),
        ("GET", "/login2"),
        ("GET", "/login/x"),
        ("GET", "/login%2Fx"),
        ("GET", "/LOGIN"),
        ("GET", "/admin"),
        ("HEAD", "/admin"),
        ("POST", "/loginx"),
        ("GET", "/admin?next=/login"),
    ]:
        answer = await client.request(method, path, allow_redirects=False)
        assert answer.status in (401, 404, 405), (method, path, answer.status)


async def test_a_dynamic_route_that_matches_the_login_path_stays_guarded(
    aiohttp_client: AiohttpClient,
) -> None:
    app = guarded_app("/login")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=f"page {request.match_info['name']}")

    app.router.add_get("/{name}", page)
    client = await aiohttp_client(app)
    for path in ("/login", "/admin", "/%6Cogin"):
        assert (await client.get(path)).status == 401, path


async def test_a_sub_application_route_named_like_the_login_page_stays_guarded(
    aiohttp_client: AiohttpClient,
) -> None:
    app = login_app("/login")
    sub = web.Application()

    async def sub_login(request: web.Request) -> web.Response:
        return web.Response(text="sub secret")

    sub.router.add_get("/login", sub_login)
    sub.router.add_get("", sub_login)
    app.add_subapp("/login", sub)  # mounted *at* the login path
    client = await aiohttp_client(app)
    assert (await client.get("/login/login")).status == 401


async def test_a_sub_application_service_opens_its_own_login_page_only(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application()
    sub = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 3600), default=Authenticated()).setup(app)
    AuthService(
        CookieTicketPolicy(SECRET, 3600),
        default=Authenticated(),
        login_url="/sub/login",
    ).setup(sub)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page")

    sub.router.add_get("/login", page)
    sub.router.add_get("/data", page)
    app.router.add_get("/login", page)
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    # The parent service has no login_url: its default guard still applies.
    assert (await client.get("/login")).status == 401
    assert (await client.get("/sub/login")).status == 401
    assert (await client.get("/sub/data")).status == 401


async def test_a_static_directory_at_the_login_path_is_not_opened_whole(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    """Only the login page's routes should be opened: files served under the
    login path by a static resource are other pages."""
    (tmp_path / "backup.sql").write_text("secret dump")
    app = guarded_app("/login")
    app.router.add_static("/login", tmp_path)
    client = await aiohttp_client(app)
    answer = await client.get("/login/backup.sql")
    assert answer.status == 401, await answer.text()


async def test_a_login_view_inheriting_a_class_guard_stops_startup(
    aiohttp_client: AiohttpClient,
) -> None:
    @Authenticated()
    class Base(web.View):
        pass

    class LoginView(Base):
        async def get(self) -> web.Response:
            return web.Response(text="form")

    app = guarded_app("/login")
    app.router.add_view("/login", LoginView)
    await refuses_to_start(app)


async def test_a_login_view_with_an_attribute_guard_on_its_base_stops_startup(
    aiohttp_client: AiohttpClient,
) -> None:
    class Base(web.View):
        guard = Requires("admin", ACL([(Allow, User("root"), "admin")]))

    class LoginView(Base):
        async def get(self) -> web.Response:
            return web.Response(text="form")

        async def post(self) -> web.Response:
            return web.Response(text="posted")

    app = guarded_app("/login")
    app.router.add_view("/login", LoginView)
    await refuses_to_start(app)


async def test_a_percent_encoded_login_url_opens_its_page_without_a_loop(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application()
    AuthService(
        CookieTicketPolicy(SECRET, 3600),
        default=Authenticated(),
        login_url="/log%20in",
    ).setup(app)

    async def form(request: web.Request) -> web.Response:
        return web.Response(text="form")

    app.router.add_get("/log in", form)
    client = await aiohttp_client(app)
    answer = await client.get("/log%20in", headers=HTML, allow_redirects=False)
    assert answer.status == 200


async def refuses_to_start(app: web.Application) -> None:
    runner = web.AppRunner(app)
    try:
        with pytest.raises(RuntimeError, match="login page cannot be guarded"):
            await runner.setup()
    finally:
        await runner.cleanup()


# == 3. the redirect-loop check ======================================================


async def test_an_absolute_login_url_on_this_site_never_loops(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """login_url='https://www.example.com/login' for the app's own login page
    (an app behind a TLS proxy, which sends Host: www.example.com and plain
    HTTP to aiohttp). The library cannot tell it from another site's login
    page at the same path, so it leaves the route guarded (fail closed),
    says so at startup, and never loops."""
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        client = await aiohttp_client(login_app("https://www.example.com/login"))
    assert "give login_url as the path '/login'" in caplog.text
    answer = await client.get(
        "/login",
        headers={**HTML, "Host": "www.example.com"},
        allow_redirects=False,
    )
    location = answer.headers.get("Location", "")
    assert not (
        answer.status == 302 and location.startswith("https://www.example.com/login")
    ), f"the login page redirects to itself: {answer.status} {location}"
    assert answer.status == 401


async def test_the_host_header_cannot_move_a_relative_login_redirect(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(login_app("/login"))
    for host in ("evil.example", "evil.example:1", "[::1]", "bad host"):
        admin = await client.get(
            "/admin", headers={**HTML, "Host": host}, allow_redirects=False
        )
        assert admin.status in (302, 400), host
        if admin.status == 302:
            assert admin.headers["Location"].startswith("/login?next="), host
        form = await client.get(
            "/login", headers={**HTML, "Host": host}, allow_redirects=False
        )
        assert form.status in (200, 400), host


async def test_the_host_header_cannot_open_an_absolute_login_urls_neighbours(
    aiohttp_client: AiohttpClient,
) -> None:
    """Claiming the login site's Host turns the redirect of /admin into
    nothing better than a 401."""
    client = await aiohttp_client(login_app("https://auth.example.com/login"))
    for host in ("auth.example.com", "auth.example.com:443", "other.example"):
        admin = await client.get(
            "/admin", headers={**HTML, "Host": host}, allow_redirects=False
        )
        assert admin.status in (302, 401), host


# == 4. the audit log =================================================================


async def test_a_legacy_refusal_in_a_nested_service_is_logged_once(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    app = service_app()
    sub = service_app()

    @acl.acl_required("edit", [(Allow, "editors", "edit")])
    async def edit(request: web.Request) -> web.Response:
        return web.Response(text="edited")

    @auth.auth_required
    async def mine(request: web.Request) -> web.Response:
        return web.Response(text="mine")

    sub.router.add_get("/edit", edit)
    sub.router.add_get("/mine", mine)
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    assert (await client.get("/sub/mine")).status == 403
    assert len(audited(audit_log, "refusal")) == 1, [
        r.getMessage() for r in audited(audit_log, "refusal")
    ]


async def test_a_legacy_refusal_raised_by_an_awaited_handler_is_logged_once(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    @auth.auth_required
    async def inner(request: web.Request) -> web.Response:
        return web.Response(text="inner")

    async def outer(request: web.Request) -> web.Response:
        return await inner(request)

    app = service_app()
    app.router.add_get("/outer", outer)
    client = await aiohttp_client(app)
    assert (await client.get("/outer")).status == 403
    assert len(audited(audit_log, "refusal")) == 1


async def test_any_of_and_all_of_refusals_are_logged_once(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    acl_ = ACL([(Allow, User("carol"), "write")])

    @AnyOf(Requires("write", acl_), Requires("read", acl_))
    async def any_page(request: web.Request) -> web.Response:
        return web.Response(text="any")

    @AllOf(Authenticated(), Requires("write", acl_))
    async def all_page(request: web.Request) -> web.Response:
        return web.Response(text="all")

    app = service_app()
    app.router.add_get("/any", any_page)
    app.router.add_get("/all", all_page)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    assert (await client.get("/any")).status == 403
    assert (await client.get("/all")).status == 403
    assert len(audited(audit_log, "refusal")) == 2


async def test_a_revoked_ticket_in_nested_services_is_logged_once(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    app = service_app(default=Authenticated())
    sub = service_app(default=Authenticated())
    app.add_subapp("/sub", sub)
    AuthService.of(app).public(_res(app, "/login"))
    AuthService.of(app).public(_res(app, "/everywhere"))
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    ticket = client.session.cookie_jar.filter_cookies(client.make_url("/"))["AUTH_TKT"]
    await client.get("/everywhere", params={"user": "alice"})
    answer = await client.get("/sub/whoami", cookies={"AUTH_TKT": ticket.value})
    assert answer.status == 401
    assert len(audited(audit_log, "revoked")) == 1
    assert len(audited(audit_log, "refusal")) == 1


def _res(app: web.Application, path: str) -> web.AbstractResource:
    for resource in app.router.resources():
        if resource.canonical == path:
            return resource
    raise LookupError(path)


async def test_a_renewal_through_nested_services_is_logged_once(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    app, sub = bare_app(), bare_app()
    AuthService(CookieTicketPolicy(codec, 3600, reissue_time=600)).setup(app)
    AuthService(CookieTicketPolicy(codec, 3600, reissue_time=600)).setup(sub)
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 3100
    answer = await client.get("/sub/whoami")
    assert await answer.text() == "alice"
    assert len(answer.headers.getall("Set-Cookie", [])) == 1
    assert len(audited(audit_log, "renewal")) == 1


async def test_a_user_id_with_newlines_cannot_forge_audit_lines(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(service_app())
    forged = (
        "alice\n2026-01-01 INFO aiohttp_guard.audit.login 'root' logged in\r\x1b[2J"
    )
    await client.get("/login", params={"user": forged})
    await client.get("/everywhere", params={"user": forged})
    for record in audit_log.records:
        if record.name.startswith(AUDIT):
            message = record.getMessage()
            for control in ("\n", "\r", "\x1b"):
                assert control not in message


@web.middleware
async def account_area(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An app's own area guard, in a middleware listed after the service's."""
    if request.path.startswith("/account/"):
        await Authenticated()(request)
    return await handler(request)


def account_app() -> web.Application:
    async def reset(request: web.Request) -> web.Response:
        return web.Response(text="reset")

    app = service_app()
    app.middlewares.append(account_area)
    app.router.add_get("/account/reset/{token}", reset)
    return app


async def test_a_405_on_a_dynamic_route_does_not_log_its_token(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    """A POST (or a browser's OPTIONS preflight) to the GET-only
    `/account/reset/{token}` matches no route (405): refused by the app's
    area guard, its audit line must still not carry the token."""
    client = await aiohttp_client(account_app())
    token = "RESET-TOKEN-5f2b9c"
    assert (await client.post(f"/account/reset/{token}")).status == 401
    (refusal,) = audited(audit_log, "refusal")
    assert token not in refusal.getMessage() + repr(refusal.__dict__), (
        refusal.getMessage()
    )


async def test_an_unmatched_path_cannot_forge_audit_lines(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    """A 404 below the guarded area, with a percent-encoded newline: the audit
    message (which a plain-text handler writes as is) must stay one line."""
    client = await aiohttp_client(account_app())
    path = "/account/x%0A2026-12-01 INFO aiohttp_guard.audit.login 'root' logged in"
    assert (await client.get(path)).status == 401
    (refusal,) = audited(audit_log, "refusal")
    assert "\n" not in refusal.getMessage()
    assert "\n" not in str(refusal.__dict__["route"])


async def test_no_secret_reaches_the_audit_log(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    async def reset(request: web.Request) -> web.Response:
        await remember(request, "alice")
        return web.Response(text="ok")

    @Requires("read", ACL([(Allow, User("bob"), "read")]))
    async def note(request: web.Request) -> web.Response:
        return web.Response(text="note")

    async def out(request: web.Request) -> web.Response:
        await forget(request)
        return web.Response(text="out")

    app = service_app()
    app.router.add_post("/reset/{token}", reset)
    app.router.add_get("/note/{id}", note)
    app.router.add_get("/out", out)
    client = await aiohttp_client(app)
    token, query = "TOK-4c1d", "apikey=QS-99aa"
    answer = await client.post(
        f"/reset/{token}?{query}",
        data={"password": "hunter2-PW"},
        headers={"Authorization": "Bearer HDR-77", "X-Api-Key": "HDR-88"},
    )
    cookie = set_cookies(answer)["AUTH_TKT"].value
    await client.get(f"/note/{token}?{query}")
    await client.get("/out")
    await client.get(f"/note/{token}", headers=HTML)
    secrets = [token, "QS-99aa", "hunter2", "HDR-77", "HDR-88", cookie]
    seen = [r for r in audit_log.records if r.name.startswith(AUDIT)]
    assert {r.name.rsplit(".", 1)[1] for r in seen} >= {"login", "refusal", "logout"}
    for record in seen:
        text = record.getMessage() + repr(record.__dict__)
        for secret in secrets:
            assert secret not in text, (secret, record.getMessage())


async def test_a_redis_store_outage_logs_no_password(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    client_redis: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        "redis://user:S3CR3T-PW@127.0.0.1:1/0", socket_connect_timeout=0.2
    )
    try:
        app = service_app(revocations=RedisRevocationStore(client_redis, timeout=0.5))
        client = await aiohttp_client(app)
        await client.get("/login", params={"user": "alice"})
        assert (await client.get("/whoami")).status == 503
        store = audited(audit_log, "store")
        assert store
        for record in store:
            assert "S3CR3T-PW" not in record.getMessage() + repr(record.__dict__)
    finally:
        await client_redis.aclose()


# == 5. the middleware's writing of tickets ==========================================


async def test_a_redirect_raised_after_a_login_carries_a_private_cookie(
    aiohttp_client: AiohttpClient,
) -> None:
    async def login_then_redirect(request: web.Request) -> web.Response:
        await remember(request, "alice")
        raise web.HTTPFound("/whoami")

    async def logout_then_redirect(request: web.Request) -> web.Response:
        await forget(request)
        raise web.HTTPSeeOther("/whoami")

    app = service_app()
    app.router.add_post("/in", login_then_redirect)
    app.router.add_post("/out", logout_then_redirect)
    client = await aiohttp_client(app)
    answer = await client.post("/in", allow_redirects=False)
    assert answer.status == 302
    assert set_cookies(answer)["AUTH_TKT"].value
    assert answer.headers["Cache-Control"] == "no-store"
    assert await (await client.get("/whoami")).text() == "alice"
    out = await client.post("/out", allow_redirects=False)
    assert out.status == 303
    assert set_cookies(out)["AUTH_TKT"].value == ""
    assert out.headers["Cache-Control"] == "no-store"
    assert await (await client.get("/whoami")).text() == "None"


async def test_a_non_refusal_error_after_a_logout_still_clears_the_cookie(
    aiohttp_client: AiohttpClient,
) -> None:
    async def out_then_error(request: web.Request) -> web.Response:
        await forget(request)
        raise web.HTTPBadRequest(text="bad")

    app = service_app()
    app.router.add_post("/out", out_then_error)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    answer = await client.post("/out")
    assert answer.status == 400
    assert set_cookies(answer)["AUTH_TKT"].value == ""
    assert await (await client.get("/whoami")).text() == "None"


async def test_a_renewal_is_not_written_on_a_shared_cacheable_redirect(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)

    async def cached(request: web.Request) -> web.Response:
        await get_auth(request)
        raise web.HTTPFound("/", headers={"Cache-Control": "public, max-age=600"})

    async def cached_ok(request: web.Request) -> web.Response:
        await get_auth(request)
        return web.Response(text="ok", headers={"Cache-Control": "public"})

    app = bare_app()
    AuthService(CookieTicketPolicy(codec, 3600, reissue_time=600)).setup(app)
    app.router.add_get("/cached", cached)
    app.router.add_get("/cached-ok", cached_ok)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 3100
    for path in ("/cached", "/cached-ok"):
        answer = await client.get(path, allow_redirects=False)
        assert "AUTH_TKT" not in set_cookies(answer), path


async def test_a_streamed_response_with_a_pending_renewal_is_not_broken(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)

    async def stream(request: web.Request) -> web.StreamResponse:
        user = await get_auth(request)
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(f"streamed for {user}".encode())
        await response.write_eof()
        return response

    app = bare_app()
    AuthService(CookieTicketPolicy(codec, 3600, reissue_time=600)).setup(app)
    app.router.add_get("/stream", stream)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 3100
    answer = await client.get("/stream")
    assert answer.status == 200
    assert await answer.text() == "streamed for alice"
    # A later ordinary response still renews.
    renewed = await client.get("/whoami")
    assert "AUTH_TKT" in set_cookies(renewed)


async def test_a_returned_http_exception_after_a_login_carries_the_cookie(
    aiohttp_client: AiohttpClient,
) -> None:
    async def returns_redirect(request: web.Request) -> web.StreamResponse:
        await remember(request, "alice")
        return web.HTTPFound("/whoami")  # returned, not raised

    app = service_app()
    app.router.add_post("/in", returns_redirect)
    client = await aiohttp_client(app)
    with pytest.warns(DeprecationWarning, match="HTTPException"):
        answer = await client.post("/in", allow_redirects=False)
    assert answer.status == 302
    assert set_cookies(answer)["AUTH_TKT"].value
    assert answer.headers["Cache-Control"] == "no-store"


async def test_a_refusal_raised_in_a_sub_application_is_answered_once(
    aiohttp_client: AiohttpClient, audit_log: pytest.LogCaptureFixture
) -> None:
    """The parent's service raises its own refusal inside the sub-app's
    handler: it is answered, not a 500, and logged once."""
    app = service_app()
    sub = service_app()

    async def parent_refuses(request: web.Request) -> web.Response:
        raise AuthService.of(app).forbidden(request, "nope")

    sub.router.add_get("/nope", parent_refuses)
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    answer = await client.get("/sub/nope")
    assert answer.status == 403
    assert len(audited(audit_log, "refusal")) == 1


async def test_public_login_page_can_log_in_without_a_default_guard_refusal(
    aiohttp_client: AiohttpClient,
) -> None:
    @Public()
    async def public_page(request: web.Request) -> web.Response:
        return web.Response(text="public")

    app = login_app("/login")
    app.router.add_get("/public", public_page)
    app.router.add_post("/login", login)
    client = await aiohttp_client(app)
    assert (await client.get("/public")).status == 200
    assert (await client.post("/login", params={"user": "alice"})).status == 200
    assert (await client.get("/admin")).status == 200


async def test_a_raised_success_marked_public_carries_no_renewal(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)

    async def raised_ok(request: web.Request) -> web.Response:
        await get_auth(request)
        raise web.HTTPOk(text="ok", headers={"Cache-Control": "public, max-age=60"})

    app = bare_app()
    AuthService(CookieTicketPolicy(codec, 3600, reissue_time=600)).setup(app)
    app.router.add_get("/raised-ok", raised_ok)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 3100
    answer = await client.get("/raised-ok")
    assert answer.status == 200
    assert "AUTH_TKT" not in set_cookies(answer)


async def test_a_refusal_inside_the_login_handler_is_a_401_not_a_loop(
    aiohttp_client: AiohttpClient,
) -> None:
    async def form(request: web.Request) -> web.Response:
        await Authenticated()(request)  # "log in again to continue"
        return web.Response(text="form")

    app = guarded_app("/login")
    app.router.add_get("/login", form)
    client = await aiohttp_client(app)
    for host in ("localhost", "evil.example"):
        answer = await client.get(
            "/login?next=/x", headers={**HTML, "Host": host}, allow_redirects=False
        )
        assert answer.status == 401, host


async def test_samesite_none_needs_secure_true() -> None:
    with pytest.raises(ValueError, match="secure=True"):
        CookieTicketPolicy(SECRET, 3600, samesite="None")
    with pytest.raises(ValueError, match="secure=True"):
        CookieTicketPolicy(SECRET, 3600, samesite="None", secure=False)
    CookieTicketPolicy(SECRET, 3600, samesite="None", secure=True)


async def test_the_missing_group_resolver_warning_is_said_once(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    @Requires("edit", ACL([(Allow, "editors", "edit"), (Allow, User("bob"), "edit")]))
    async def edit(request: web.Request) -> web.Response:
        return web.Response(text="edit")

    app = service_app()
    app.router.add_get("/edit", edit)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        for _ in range(3):
            assert (await client.get("/edit")).status == 403
    warned = [r for r in caplog.records if "no group resolver" in r.getMessage()]
    assert len(warned) == 1
