"""AuthService: installation, lookup, per-request caching and refusals."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.typedefs import Handler
from hypothesis import given
from hypothesis import strategies as st
from pytest_aiohttp import AiohttpClient
from yarl import URL

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    DefaultErrorHandler,
    get_auth,
    is_safe_next,
    remember,
    safe_next,
)
from aiohttp_guard.errors import preferred_format
from aiohttp_guard.refusals import (
    _MAX_REMEMBERED_ACCEPT,  # pyright: ignore[reportPrivateUsage]
    _PREFERRED,  # pyright: ignore[reportPrivateUsage]
    _header_safe,  # pyright: ignore[reportPrivateUsage]
    _preferred,  # pyright: ignore[reportPrivateUsage]
)

from .apps import HeaderPolicy, make_app, private
from .conftest import SECRET


async def test_of_finds_the_service_on_the_app_and_names_the_fix_when_missing() -> None:
    app = web.Application()
    service = AuthService(CookieTicketPolicy(SECRET, 60))
    service.setup(app)
    assert AuthService.of(app) is service
    assert service.middleware in app.middlewares
    with pytest.raises(RuntimeError, match="already has an AuthService"):
        AuthService(CookieTicketPolicy(SECRET, 60)).setup(app)
    with pytest.raises(RuntimeError, match=r"AuthService\(policy\).setup\(app\)"):
        AuthService.of(web.Application())


def test_constructor_refuses_what_is_not_a_policy() -> None:
    with pytest.raises(TypeError, match="CookieTicketPolicy"):
        AuthService("not a policy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="login_url"):
        AuthService(
            HeaderPolicy(), login_url="/login", error_handler=DefaultErrorHandler()
        )


async def test_a_request_without_a_service_gets_a_runtime_error_naming_the_fix(
    aiohttp_client: AiohttpClient,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        try:
            await get_auth(request)
        except RuntimeError as exc:
            return web.Response(text=str(exc))
        return web.Response(text="no error")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    assert "setup(app)" in await (await client.get("/")).text()


async def test_a_middleware_running_before_the_service_is_told_so(
    aiohttp_client: AiohttpClient,
) -> None:
    @web.middleware
    async def too_early(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            await get_auth(request)
        except RuntimeError as exc:
            return web.Response(text=str(exc))
        return await handler(request)

    app = web.Application(middlewares=[too_early])
    AuthService(HeaderPolicy()).setup(app)
    client = await aiohttp_client(app)
    assert "middleware has not run" in await (await client.get("/")).text()


async def test_sub_applications_use_the_root_service(
    aiohttp_client: AiohttpClient,
) -> None:
    @Authenticated()
    async def inner(request: web.Request) -> web.Response:
        return web.Response(text=str(await get_auth(request)))

    sub = web.Application()
    sub.router.add_get("/inner", inner)
    app = web.Application()
    AuthService(HeaderPolicy()).setup(app)
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    assert (await client.get("/sub/inner")).status == 401
    assert (
        await (await client.get("/sub/inner", headers={"X-User": "alice"})).text()
        == "alice"
    )


async def test_identity_is_resolved_once_per_request(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = HeaderPolicy()

    @Authenticated()
    @Authenticated()
    async def twice(request: web.Request) -> web.Response:
        service = AuthService.of(request)
        ids = [await service.identify(request), await get_auth(request)]
        return web.Response(text=repr(ids))

    app = make_app(policy)
    app.router.add_get("/twice", twice)
    client = await aiohttp_client(app)
    assert (
        await (await client.get("/twice", headers={"X-User": "al"})).text()
        == "['al', 'al']"
    )
    assert policy.lookups == 1
    await client.get("/whoami")  # anonymous: the None is cached too
    await client.get("/private")
    assert policy.lookups == 3


async def test_remember_refuses_non_str_user_ids(aiohttp_client: AiohttpClient) -> None:
    async def bad(request: web.Request) -> web.Response:
        with pytest.raises(TypeError, match="str"):
            await remember(request, 42)  # type: ignore[arg-type]
        return web.Response(text="checked")

    app = make_app(CookieTicketPolicy(SECRET, 60))
    app.router.add_get("/bad", bad)
    client = await aiohttp_client(app)
    assert await (await client.get("/bad")).text() == "checked"


async def test_unauthenticated_answers_carry_the_policy_challenge(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(make_app(CookieTicketPolicy(SECRET, 60)))
    plain = await client.get("/private")
    assert plain.status == 401
    assert plain.headers["WWW-Authenticate"].startswith("Cookie ")
    assert 'cookie-name="AUTH_TKT"' in plain.headers["WWW-Authenticate"]

    as_json = await client.get("/private", headers={"Accept": "application/json"})
    assert as_json.status == 401
    assert as_json.content_type == "application/problem+json"
    assert await as_json.json(content_type=None) == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Authentication is required.",
    }
    assert "WWW-Authenticate" in as_json.headers


async def test_custom_policy_without_a_challenge_sends_none(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(make_app(HeaderPolicy()))
    response = await client.get("/private")
    assert response.status == 401
    assert "WWW-Authenticate" not in response.headers


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_browsers_are_sent_to_the_login_page_with_a_safe_next(
    aiohttp_client: AiohttpClient,
) -> None:
    app = make_app(HeaderPolicy(), login_url="/login?theme=dark")
    app.router.add_post("/private", private)
    app.router.add_get("/files/{name:.*}", private)
    client = await aiohttp_client(app)

    response = await client.get(
        "/private?tab=2", headers=BROWSER, allow_redirects=False
    )
    assert response.status == 302
    assert response.headers["Location"] == "/login?theme=dark&next=/private?tab%3D2"

    app_path = await client.get(
        "/files/a%20b/%2F%2Fevil", headers=BROWSER, allow_redirects=False
    )
    location = URL(app_path.headers["Location"])
    assert location.query["next"] == "/files/a%20b/%2F%2Fevil"  # still one path here

    posted = await client.post("/private", headers=BROWSER, allow_redirects=False)
    assert posted.headers["Location"] == "/login?theme=dark"

    api = await client.get("/private", headers={"Accept": "application/json"})
    assert api.status == 401


async def test_login_view_only_follows_safe_next(aiohttp_client: AiohttpClient) -> None:
    async def login(request: web.Request) -> web.Response:
        raise web.HTTPFound(safe_next(request, default="/home"))

    app = web.Application()
    app.router.add_get("/login", login)
    client = await aiohttp_client(app)
    for target, expected in [
        ("/private?tab=2", "/private?tab=2"),
        ("//evil.example/", "/home"),
        ("https://evil.example/", "/home"),
        ("/\\evil.example", "/home"),
        ("", "/home"),
    ]:
        response = await client.get(
            "/login", params={"next": target}, allow_redirects=False
        )
        assert response.headers["Location"] == expected, target


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/", True),
        ("/a/b?c=d#e", True),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("/ok\\..\\", False),
        ("http://evil.example/", False),
        ("javascript:alert(1)", False),
        ("/\t/evil.example", False),
        ("relative/path", False),
        ("", False),
    ],
)
def test_is_safe_next(target: str, safe: bool) -> None:
    assert is_safe_next(target) is safe


@given(st.text())
def test_safe_next_targets_never_leave_the_site(target: str) -> None:
    if is_safe_next(target):
        resolved = urlsplit(urljoin("https://site.example/base/", target))
        assert resolved.netloc == "site.example"
        assert resolved.scheme == "https"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", None),
        ("*/*", None),
        ("text/html", "html"),
        ("application/json", "json"),
        ("application/problem+json", "json"),
        ("text/html;q=0.5, application/json", "json"),
        ("application/json;q=0.2, text/html;q=0.9", "html"),
        ("application/json;q=oops", None),
    ],
)
def test_preferred_format(accept: str, expected: str | None) -> None:
    assert preferred_format(accept) == expected


@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=600))
def test_a_remembered_accept_answer_is_the_one_read_anew(accept: str) -> None:
    """The refusals remember what each Accept header prefers: asked again,
    they answer what reading it anew answers."""
    request = make_mocked_request("GET", "/", headers={"Accept": accept})
    for _ in range(2):
        assert _preferred(request) == preferred_format(accept)


def test_remembered_accept_headers_are_bounded() -> None:
    """A client choosing a new Accept header per request cannot grow the
    memory of them: at most `size` headers, none longer than the limit."""
    long = "application/json," + "x" * _MAX_REMEMBERED_ACCEPT
    assert _preferred(make_mocked_request("GET", "/", headers={"Accept": long})) == (
        "json"
    )
    assert long not in _PREFERRED
    for n in range(_PREFERRED.size + 100):
        header = f"text/html;q=0.{n % 9 + 1}, application/x-{n}"
        assert _preferred(make_mocked_request("GET", "/", headers={"Accept": header}))
    assert len(_PREFERRED) <= _PREFERRED.size


def _reason_phrase(text: str) -> str:
    """The first line of `text` in Latin-1 with "?" for each control
    character, "Forbidden" for none: what a refusal's reason phrase must
    be, read the long way."""
    line = text.splitlines()[0] if text else "Forbidden"
    kept = "".join(
        c if c == "\t" or not (ord(c) < 0x20 or ord(c) == 0x7F) else "?" for c in line
    )
    return kept.encode("latin-1", "replace").decode("latin-1")


@given(st.text())
def test_a_reason_phrase_is_one_line_of_latin_1(text: str) -> None:
    phrase = _header_safe(text)
    assert phrase == _reason_phrase(text)
    phrase.encode("latin-1")
    assert not any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in phrase)


async def test_a_reason_with_control_characters_still_gets_its_403_read(
    aiohttp_client: AiohttpClient,
) -> None:
    """A reason an application builds from what it was sent may hold any
    character: its 403 still reaches the client, with the body whole."""

    async def refuse(request: web.Request) -> web.Response:
        reason = "no " + chr(int(request.query["c"])) + " here"
        raise AuthService.of(request).forbidden(request, reason)

    app = make_app(HeaderPolicy())
    app.router.add_get("/refuse", refuse)
    client = await aiohttp_client(app)
    for code in [*range(0x20), 0x7F, 0x85, 0xFF, 0x2028]:
        response = await client.get("/refuse", params={"c": str(code)})
        assert response.status == 403, hex(code)
        assert await response.text() == "no " + chr(code) + " here", hex(code)


async def test_forbidden_answers(aiohttp_client: AiohttpClient) -> None:
    async def refuse(request: web.Request) -> web.Response:
        raise AuthService.of(request).forbidden(request, "edit is denied\nfor you ☹")

    app = make_app(HeaderPolicy())
    app.router.add_get("/refuse", refuse)
    client = await aiohttp_client(app)
    plain = await client.get("/refuse")
    assert plain.status == 403
    assert plain.reason == "edit is denied"
    assert await plain.text() == "edit is denied\nfor you ☹"
    as_json = await client.get("/refuse", headers={"Accept": "application/json"})
    body = await as_json.json(content_type="application/problem+json")
    assert body["status"] == 403
    assert body["title"] == "Forbidden"


async def test_a_custom_error_handler_decides_the_answer(
    aiohttp_client: AiohttpClient,
) -> None:
    class PayWall(DefaultErrorHandler):
        def unauthenticated(
            self, request: web.Request, challenge: str | None
        ) -> web.HTTPException:
            return web.HTTPPaymentRequired(text=f"who are you? ({challenge})")

    client = await aiohttp_client(make_app(HeaderPolicy(), error_handler=PayWall()))
    response = await client.get("/private")
    assert response.status == 402
    assert await response.text() == "who are you? (None)"


async def test_a_sub_application_may_have_a_service_of_its_own(
    aiohttp_client: AiohttpClient,
) -> None:
    admin = make_app(CookieTicketPolicy(SECRET, 60, cookie_name="ADMIN"))
    app = make_app(CookieTicketPolicy(SECRET, 60, cookie_name="SITE"))
    app.add_subapp("/admin", admin)
    client = await aiohttp_client(app)

    await client.get("/admin/login", params={"user": "root"})
    assert await (await client.get("/admin/whoami")).text() == "root"
    assert await (await client.get("/whoami")).text() == "None"
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/whoami")).text() == "alice"
    assert await (await client.get("/admin/whoami")).text() == "root"
    assert {cookie.key for cookie in client.session.cookie_jar} == {"ADMIN", "SITE"}


async def test_after_a_sub_applications_service_the_root_service_answers_again(
    aiohttp_client: AiohttpClient,
) -> None:
    seen: list[str | None] = []

    @web.middleware
    async def audit(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        seen.append(await get_auth(request))  # after the sub-app's middleware
        return response

    admin = make_app(CookieTicketPolicy(SECRET, 60, cookie_name="ADMIN"))
    app = make_app(CookieTicketPolicy(SECRET, 60, cookie_name="SITE"))
    app.middlewares.append(audit)
    app.add_subapp("/admin", admin)
    client = await aiohttp_client(app)
    await client.get("/admin/login", params={"user": "root"})
    await client.get("/login", params={"user": "alice"})
    seen.clear()

    assert await (await client.get("/admin/whoami")).text() == "root"
    assert seen == ["alice"]


async def test_a_policy_of_your_own_writes_into_every_kind_of_response(
    aiohttp_client: AiohttpClient,
) -> None:
    """The middleware skips the hook only for policies that leave it alone;
    one that overrides it sees answers, raised HTTP errors and refusals."""

    class StampingPolicy(HeaderPolicy):
        async def process_response(
            self, request: web.Request, response: web.StreamResponse
        ) -> None:
            response.headers["X-Stamped"] = request.path

    client = await aiohttp_client(make_app(StampingPolicy()))
    answered = await client.get("/whoami")
    raised = await client.get("/login?user=a")  # this policy's remember raises 501
    refused = await client.get("/private")
    assert (answered.status, raised.status, refused.status) == (200, 501, 401)
    assert answered.headers["X-Stamped"] == "/whoami"
    assert raised.headers["X-Stamped"] == "/login"
    assert refused.headers["X-Stamped"] == "/private"
