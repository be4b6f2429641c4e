"""Cross-origin (CSRF) protection through a real server: every branch of the
rule, every method, exemptions, composition, and the audit log."""

from __future__ import annotations

import functools
import json
import logging

import pytest
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, make_mocked_request
from aiohttp.typedefs import Handler
from hypothesis import given
from hypothesis import strategies as st
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Authenticated,
    AuthService,
    BaseGuard,
    BearerTicketPolicy,
    CookieTicketPolicy,
    CrossOriginProtection,
    TicketCodec,
    auth,
    csrf_exempt,
    get_auth,
    remember,
)
from aiohttp_guard.cross_origin import parse_origin

from .conftest import SECRET

UNSAFE = ("POST", "PUT", "PATCH", "DELETE", "PURGE")
SAFE = ("GET", "HEAD", "OPTIONS")
Client = TestClient[web.Request, web.Application]
PROTECTION = CrossOriginProtection()
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}


class Counter:
    """What reached the handlers and the guards."""

    def __init__(self) -> None:
        self.handled: list[str] = []
        self.guarded = 0


class CountingGuard(BaseGuard[None]):
    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    async def check(self, request: web.Request) -> None:
        self.counter.guarded += 1


def protected_app(
    counter: Counter, *, csrf: CrossOriginProtection | None = PROTECTION
) -> web.Application:
    app = web.Application()
    AuthService(
        [CookieTicketPolicy(SECRET, 600), BearerTicketPolicy(SECRET, 600)],
        default=CountingGuard(counter),
        csrf=csrf,
    ).setup(app)

    async def act(request: web.Request) -> web.Response:
        counter.handled.append(request.method)
        return web.Response(text=f"done by {await get_auth(request)}")

    async def login(request: web.Request) -> web.Response:
        counter.handled.append("login")
        token = await remember(request, request.query.get("user", "alice"))
        return web.Response(text=token or "logged in")

    app.router.add_route("*", "/act", act)
    app.router.add_post("/login", login)
    return app


@pytest.fixture
def counter() -> Counter:
    return Counter()


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, counter: Counter) -> Client:
    return await aiohttp_client(protected_app(counter))


def here(client: Client) -> str:
    """The origin of the test server, as a browser on its page would send."""
    return f"http://127.0.0.1:{client.port}"


@pytest.mark.parametrize("method", UNSAFE)
async def test_a_cross_site_request_is_refused_before_guards_and_handler(
    client: Client, counter: Counter, method: str
) -> None:
    response = await client.request(method, "/act", headers=CROSS_SITE)
    assert response.status == 403
    assert "Cross-origin request refused" in await response.text()
    assert "evil.example" not in await response.text()  # never echoed
    assert counter.handled == []
    assert counter.guarded == 0


@pytest.mark.parametrize("method", SAFE)
async def test_safe_methods_are_never_checked(
    client: Client, counter: Counter, method: str
) -> None:
    response = await client.request(method, "/act", headers=CROSS_SITE)
    assert response.status == 200
    assert counter.handled == [method]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "Same-Origin"}, 403),  # not a browser's value
        ({"Sec-Fetch-Site": ""}, 403),
        ({"Sec-Fetch-Site": "whatever"}, 403),
        # A same-site subdomain is another origin.
        ({"Sec-Fetch-Site": "same-site", "Origin": "http://sub.127.0.0.1"}, 403),
        # Sec-Fetch-Site decides before the Origin is compared with Host.
        ({"Sec-Fetch-Site": "cross-site", "Origin": "SELF"}, 403),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, 200),
        # Neither header: not a browser, or one too old to send them.
        ({}, 200),
        ({"Origin": "null"}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "SELF"}, 200),
        ({"Origin": "garbage"}, 403),
        ({"Origin": ""}, 403),
    ],
)
async def test_each_branch_of_the_rule(
    client: Client,
    counter: Counter,
    headers: dict[str, str],
    status: int,
) -> None:
    sent = {k: v.replace("SELF", here(client)) for k, v in headers.items()}
    response = await client.post("/act", headers=sent)
    assert response.status == status
    assert counter.handled == (["POST"] if status == 200 else [])


@pytest.mark.parametrize(
    ("origin", "host", "status"),
    [
        # Default ports, written or not, on either side.
        ("http://example.com", "example.com", 200),
        ("http://example.com:80", "example.com", 200),
        ("http://example.com", "example.com:80", 200),
        ("https://example.com", "example.com:443", 200),
        ("https://example.com", "example.com", 200),
        ("https://example.com", "example.com:80", 403),
        ("http://example.com:8080", "example.com:8080", 200),
        ("http://example.com:8080", "example.com:8081", 403),
        ("http://example.com:8080", "example.com", 403),
        # Case differences in scheme and host.
        ("HTTP://EXAMPLE.com", "example.COM", 200),
        # IPv6 hosts.
        ("http://[::1]:8080", "[::1]:8080", 200),
        ("http://[::1]", "[::1]:80", 200),
        ("http://[::1]:8080", "[::2]:8080", 403),
        ("http://[::1]:8080", "[::1]:8081", 403),
        # Look-alikes and things that are not origins.
        ("http://example.com.evil.example", "example.com", 403),
        ("http://evil.example@example.com", "example.com", 403),
        ("http://example.com/", "example.com", 403),
        ("http://example.com:99999", "example.com", 403),
        ("http://example.com:", "example.com", 403),
        ("null", "null", 403),
        # Only web pages' origins name this server.
        ("ftp://example.com", "example.com", 403),
        ("chrome-extension://example.com", "example.com", 403),
    ],
)
async def test_origin_against_host(
    client: Client, counter: Counter, origin: str, host: str, status: int
) -> None:
    response = await client.post("/act", headers={"Origin": origin, "Host": host})
    assert response.status == status


async def test_a_request_over_https_comes_from_an_https_page(
    aiohttp_client: AiohttpClient, counter: Counter
) -> None:
    @web.middleware
    async def behind_tls_proxy(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        # As aiohttp-remotes restores the scheme a TLS-ending proxy saw.
        return await handler(request.clone(scheme="https"))

    app = protected_app(counter)
    app.middlewares.insert(0, behind_tls_proxy)
    client = await aiohttp_client(app)
    host = {"Host": "example.com"}
    plain = {**host, "Origin": "http://example.com"}
    assert (await client.post("/act", headers=plain)).status == 403
    secure = {**host, "Origin": "https://example.com"}
    assert (await client.post("/act", headers=secure)).status == 200


async def test_more_than_one_origin_header_is_refused(client: Client) -> None:
    response = await client.post(
        "/act", headers=[("Origin", here(client)), ("Origin", here(client))]
    )
    assert response.status == 403
    both = [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Site", "cross-site")]
    assert (await client.post("/act", headers=both)).status == 403


async def test_the_login_route_is_protected_and_no_cookie_is_set(
    client: Client, counter: Counter
) -> None:
    response = await client.post("/login?user=mallory", headers=CROSS_SITE)
    assert response.status == 403
    assert "AUTH_TKT" not in response.cookies
    assert counter.handled == []
    # The same login from the site itself works.
    ok = await client.post("/login", headers={"Sec-Fetch-Site": "same-origin"})
    assert ok.status == 200
    assert "AUTH_TKT" in ok.cookies


async def test_a_logged_in_user_is_refused_too(client: Client) -> None:
    await client.post("/login?user=alice")
    assert await (await client.get("/act")).text() == "done by alice"
    response = await client.post("/act", headers=CROSS_SITE)
    assert response.status == 403


async def test_json_clients_get_problem_json(client: Client) -> None:
    response = await client.post(
        "/act", headers={**CROSS_SITE, "Accept": "application/json"}
    )
    assert response.status == 403
    assert response.content_type == "application/problem+json"
    body = json.loads(await response.text())
    assert body["status"] == 403
    assert "Cross-origin request refused" in body["detail"]


async def test_a_bearer_token_from_another_origin_passes(
    client: Client, counter: Counter
) -> None:
    codec = TicketCodec(SECRET)
    token = codec.encode(codec.issue("api", 600))
    response = await client.post(
        "/act", headers={**CROSS_SITE, "Authorization": f"Bearer {token}"}
    )
    assert response.status == 200
    assert await response.text() == "done by api"


async def test_any_authorization_beside_a_cookie_is_checked(
    client: Client, counter: Counter
) -> None:
    """The cookie would log the request in, whatever the header says: a
    page allowed to add headers by a lax CORS setup must not pass by adding
    a junk one."""
    await client.post("/login?user=alice")
    for value in ("Bearer junk", "X", "Bearer"):
        headers = {**CROSS_SITE, "Authorization": value}
        assert (await client.post("/act", headers=headers)).status == 403
    assert counter.handled == ["login"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic YWxpY2U6c2VjcmV0",
        "basic x",
        "Basic\tx",
        "Digest x",
        "Negotiate x",
        "NTLM x",
        "",
        " ",
    ],
)
async def test_browser_managed_authorization_is_checked(
    client: Client, counter: Counter, authorization: str
) -> None:
    # A browser sends these by itself once the user answered its prompt:
    # as ambient as a cookie.
    headers = {**CROSS_SITE, "Authorization": authorization}
    assert (await client.post("/act", headers=headers)).status == 403
    assert counter.handled == []


async def test_trusted_origins_pass_even_cross_site(
    aiohttp_client: AiohttpClient, counter: Counter
) -> None:
    protection = CrossOriginProtection(
        trusted_origins=("https://App.Example.com", "http://[::1]:3000")
    )
    client = await aiohttp_client(protected_app(counter, csrf=protection))
    for origin in ("https://app.example.com", "https://app.example.com:443"):
        headers = {"Origin": origin, "Sec-Fetch-Site": "cross-site"}
        assert (await client.post("/act", headers=headers)).status == 200
    refused = [
        "http://app.example.com",  # another scheme is another origin
        "https://app.example.com:8443",
        "https://evil.app.example.com",
        "http://[::1]:3001",
    ]
    for origin in refused:
        headers = {"Origin": origin, "Sec-Fetch-Site": "cross-site"}
        assert (await client.post("/act", headers=headers)).status == 403, origin
    same_site = {"Origin": "http://[::1]:3000", "Sec-Fetch-Site": "same-site"}
    assert (await client.post("/act", headers=same_site)).status == 200


async def test_csrf_none_turns_it_off(
    aiohttp_client: AiohttpClient, counter: Counter
) -> None:
    client = await aiohttp_client(protected_app(counter, csrf=None))
    assert (await client.post("/act", headers=CROSS_SITE)).status == 200


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(TypeError, match="not one string"):
        CrossOriginProtection(trusted_origins="https://app.example.com")
    with pytest.raises(ValueError, match="not patterns"):
        CrossOriginProtection(trusted_origins=("https://*.example.com",))
    for bad in ("app.example.com", "https://app.example.com/", "https://", "null"):
        with pytest.raises(ValueError, match="is not an origin"):
            CrossOriginProtection(trusted_origins=(bad,))
    with pytest.raises(TypeError, match="CrossOriginProtection"):
        AuthService(CookieTicketPolicy(SECRET, 600), csrf=True)  # type: ignore[arg-type]


# -- csrf_exempt -------------------------------------------------------------


@csrf_exempt
async def webhook(request: web.Request) -> web.Response:
    return web.Response(text="hook")


class ExemptView(web.View):
    async def post(self) -> web.Response:
        return web.Response(text="view post")


csrf_exempt(ExemptView)


class ExemptSubView(ExemptView):
    async def put(self) -> web.Response:
        return web.Response(text="sub put")


class OneMethodExempt(web.View):
    @csrf_exempt
    async def post(self) -> web.Response:
        return web.Response(text="exempt post")

    async def delete(self) -> web.Response:
        return web.Response(text="delete")


class OverridesExemptMethod(OneMethodExempt):
    async def post(self) -> web.Response:
        return web.Response(text="own post")


async def named(request: web.Request, name: str) -> web.Response:
    return web.Response(text=name)


def exempt_app(counter: Counter) -> web.Application:
    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600)).setup(app)
    guarded_hook = Authenticated()(csrf_exempt(named_hook))
    app.router.add_post("/hook", webhook)
    app.router.add_post("/guarded-hook", guarded_hook)
    app.router.add_post("/partial", csrf_exempt(functools.partial(named, name="p")))
    app.router.add_view("/view", ExemptView)
    app.router.add_view("/subview", ExemptSubView)
    app.router.add_view("/one", OneMethodExempt)
    app.router.add_view("/override", OverridesExemptMethod)
    app.router.add_post("/plain", functools.partial(named, name="plain"))
    return app


async def named_hook(request: web.Request) -> web.Response:
    return web.Response(text="guarded hook")


async def test_exempt_routes_take_cross_origin_requests(
    aiohttp_client: AiohttpClient, counter: Counter
) -> None:
    client = await aiohttp_client(exempt_app(counter))
    cases = [
        ("POST", "/hook", 200),
        ("POST", "/partial", 200),
        ("POST", "/plain", 403),
        ("POST", "/view", 200),
        ("POST", "/subview", 200),  # a class decorator binds subclasses
        ("PUT", "/subview", 200),
        ("POST", "/one", 200),
        ("DELETE", "/one", 403),  # only the decorated method
        ("POST", "/override", 403),  # an override without the decorator
    ]
    for method, path, status in cases:
        response = await client.request(method, path, headers=CROSS_SITE)
        assert response.status == status, (method, path)
    # Guards still run on an exempt route.
    assert (await client.post("/guarded-hook", headers=CROSS_SITE)).status == 401


async def test_the_routes_report_marks_exempt_routes(counter: Counter) -> None:
    app = exempt_app(counter)
    service = AuthService.of(app)
    report = {(r.method, r.path): r for r in service.routes_report(app)}
    assert report["POST", "/hook"].csrf_exempt
    assert str(report["POST", "/hook"]) == "POST /hook -> UNGUARDED (csrf exempt)"
    assert report["POST", "/guarded-hook"].csrf_exempt
    assert report["POST", "/view"].csrf_exempt
    assert report["PUT", "/subview"].csrf_exempt
    assert report["POST", "/one"].csrf_exempt
    assert not report["DELETE", "/one"].csrf_exempt
    assert not report["POST", "/override"].csrf_exempt
    assert not report["POST", "/plain"].csrf_exempt
    # With the protection off there is nothing to be exempt from.
    off = AuthService(CookieTicketPolicy(SECRET, 600), csrf=None)
    assert not any(r.csrf_exempt for r in off.routes_report(app))


def test_csrf_exempt_refuses_what_it_cannot_mark() -> None:
    with pytest.raises(TypeError, match="decorates a handler"):
        csrf_exempt("/hook")  # type: ignore[type-var]
    with pytest.raises(TypeError, match="cannot mark"):
        csrf_exempt(len)


# -- composition -------------------------------------------------------------


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def test_a_parent_service_protects_a_sub_app_without_one(
    aiohttp_client: AiohttpClient,
) -> None:
    parent = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600)).setup(parent)
    sub = web.Application()
    sub.router.add_post("/act", ok)
    sub.router.add_post("/hook", csrf_exempt(named_hook))
    parent.add_subapp("/sub", sub)
    client = await aiohttp_client(parent)
    assert (await client.post("/sub/act", headers=CROSS_SITE)).status == 403
    assert (await client.post("/sub/hook", headers=CROSS_SITE)).status == 200


async def test_a_sub_app_service_protects_its_routes_when_the_parent_does_not(
    aiohttp_client: AiohttpClient,
) -> None:
    parent = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600), csrf=None).setup(parent)
    parent.router.add_post("/open", ok)
    sub = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600, cookie_name="SUB")).setup(sub)
    sub.router.add_post("/act", ok)
    parent.add_subapp("/sub", sub)
    client = await aiohttp_client(parent)
    assert (await client.post("/open", headers=CROSS_SITE)).status == 200
    assert (await client.post("/sub/act", headers=CROSS_SITE)).status == 403


async def test_unmatched_requests_are_checked_too(
    aiohttp_client: AiohttpClient,
) -> None:
    """A middleware may answer a 404 or 405 itself (a fallback, a legacy
    proxy): the forged request is refused before it gets there."""
    answered: list[str] = []

    @web.middleware
    async def fallback(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            answered.append(request.path)
            return web.Response(text="answered by the fallback")

    app = web.Application(middlewares=[fallback])
    AuthService(CookieTicketPolicy(SECRET, 600)).setup(app)
    app.router.add_get("/only-get", ok)
    client = await aiohttp_client(app)
    assert (await client.post("/legacy/delete", headers=CROSS_SITE)).status == 403
    assert (await client.post("/only-get", headers=CROSS_SITE)).status == 403
    assert answered == []
    # From the site itself they are what they were.
    assert (await client.post("/legacy/delete")).status == 200
    assert (await client.post("/only-get")).status == 405


async def test_the_aiohttp_auth_api_is_protected_too(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application(
        middlewares=[auth.auth_middleware(auth.CookieTktAuthentication(SECRET, 600))]
    )
    app.router.add_post("/act", ok)
    client = await aiohttp_client(app)
    assert (await client.post("/act")).status == 200  # a test client, no browser
    assert (await client.post("/act", headers=CROSS_SITE)).status == 403


# -- the audit log -----------------------------------------------------------


async def test_a_refusal_is_audited_once_with_the_origin(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="aiohttp_guard.audit"):
        await client.post("/act", headers=CROSS_SITE)
        records = [r for r in caplog.records if r.name == "aiohttp_guard.audit.refusal"]
    (record,) = records
    reason = str(getattr(record, "reason"))  # noqa: B009
    assert "cross-origin" in reason
    assert "'https://evil.example'" in reason
    assert "'cross-site'" in reason
    assert getattr(record, "status") == 403  # noqa: B009
    assert getattr(record, "route") == "/act"  # noqa: B009


async def test_long_header_values_are_shortened_in_the_log(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="aiohttp_guard.audit"):
        await client.post("/act", headers={"Origin": "https://" + "a" * 5000})
        (record,) = [r for r in caplog.records if r.name.endswith(".refusal")]
    assert len(str(getattr(record, "reason"))) < 400  # noqa: B009


# -- the parser and the check, for any input ---------------------------------

header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
)


@pytest.mark.parametrize(
    ("origin", "host", "refused"),
    [
        ("http://[1:2:3]:8080", "[1:2:3]:8080", True),  # brackets, no IPv6
        ("http://[::1]:8080", "[::1]:8080", False),
        ("http://example.com", "example.com/x", True),  # Host is no host
        ("http://example.com", "", True),
        ("http://example.com:65536", "example.com:65536", True),
    ],
)
def test_malformed_hosts_are_refused(origin: str, host: str, refused: bool) -> None:
    request = make_mocked_request("POST", "/", headers={"Origin": origin, "Host": host})
    assert (PROTECTION.check(request) is not None) is refused
    safe = make_mocked_request("GET", "/", headers={"Origin": origin, "Host": host})
    assert PROTECTION.check(safe) is None


@given(header_text)
def test_parse_origin_never_raises(value: str) -> None:
    parsed = parse_origin(value)
    if parsed is not None:
        scheme, host, port = parsed
        assert scheme == scheme.lower()
        assert host == host.lower()
        assert port is None or 0 <= port <= 65535


hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)


@given(
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    hosts,
    st.one_of(st.none(), st.integers(0, 65535)),
)
def test_an_origin_names_its_own_host(scheme: str, host: str, port: int | None) -> None:
    """Whatever the origin, a request to that very host and port passes,
    and one to another port is refused."""
    written = f"{scheme}://{host.upper()}" + ("" if port is None else f":{port}")
    host_header = host + ("" if port is None else f":{port}")
    protection = CrossOriginProtection()
    same = make_mocked_request(
        "POST", "/", headers={"Origin": written, "Host": host_header}
    )
    assert protection.check(same) is None
    other_port = (port or 1) + 1 if (port or 1) < 65535 else 1
    other = make_mocked_request(
        "POST", "/", headers={"Origin": written, "Host": f"{host}:{other_port}"}
    )
    default = 443 if scheme.lower() == "https" else 80
    if (port or default) != other_port:
        assert protection.check(other) is not None


@given(
    st.sampled_from(["POST", "PUT", "DELETE", "post"]),
    st.dictionaries(
        st.sampled_from(["Origin", "Sec-Fetch-Site", "Host", "Authorization"]),
        header_text,
    ),
)
def test_check_never_raises(method: str, headers: dict[str, str]) -> None:
    verdict = CrossOriginProtection().check(
        make_mocked_request(method, "/", headers=headers)
    )
    assert verdict is None or verdict.startswith("cross-origin request refused")


# -- WebSocket handshakes ----------------------------------------------------


async def echo_user(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.send_str(str(await get_auth(request)))
    await socket.close()
    return socket


def websocket_app(
    protection: CrossOriginProtection | None = PROTECTION,
) -> web.Application:
    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600), csrf=protection).setup(app)
    app.router.add_post("/login", login_alice)
    app.router.add_get("/socket", echo_user)
    app.router.add_get("/open-socket", csrf_exempt(echo_user_copy))
    return app


async def login_alice(request: web.Request) -> web.Response:
    await remember(request, "alice")
    return web.Response(text="ok")


async def echo_user_copy(request: web.Request) -> web.WebSocketResponse:
    return await echo_user(request)


async def handshake(client: Client, path: str, headers: dict[str, str]) -> int | str:
    """The handshake's refusal status, or what the socket said."""
    try:
        async with client.ws_connect(path, headers=headers) as socket:
            return str(await socket.receive_str())
    except WSServerHandshakeError as error:
        return error.status


async def test_a_cross_site_websocket_handshake_is_refused(
    aiohttp_client: AiohttpClient,
) -> None:
    """Cross-site WebSocket hijacking: another site's page opens a socket
    that acts for the user whose cookie the browser sent along."""
    client = await aiohttp_client(websocket_app())
    await client.post("/login")
    same_site = {"Origin": "http://sub.127.0.0.1", "Sec-Fetch-Site": "same-site"}
    assert await handshake(client, "/socket", CROSS_SITE) == 403
    assert await handshake(client, "/socket", same_site) == 403
    assert await handshake(client, "/socket", {"Origin": "https://evil.example"}) == 403
    # The site's own pages, and clients that are not browsers, connect.
    own = {"Origin": here(client), "Sec-Fetch-Site": "same-origin"}
    assert await handshake(client, "/socket", own) == "alice"
    assert await handshake(client, "/socket", {"Origin": here(client)}) == "alice"
    assert await handshake(client, "/socket", {}) == "alice"
    # An exempt route takes them all.
    assert await handshake(client, "/open-socket", CROSS_SITE) == "alice"


async def test_websocket_checks_can_be_turned_off(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        websocket_app(CrossOriginProtection(websockets=False))
    )
    await client.post("/login")
    assert await handshake(client, "/socket", CROSS_SITE) == "alice"
    # Unsafe methods are still checked.
    assert (await client.post("/login", headers=CROSS_SITE)).status == 403


def test_the_routes_report_marks_an_exempt_socket() -> None:
    app = websocket_app()
    report = {(r.method, r.path): r for r in AuthService.of(app).routes_report(app)}
    assert report["GET", "/open-socket"].csrf_exempt
    assert not report["GET", "/socket"].csrf_exempt
