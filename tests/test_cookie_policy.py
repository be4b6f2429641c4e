"""CookieTicketPolicy through a real aiohttp server and client."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session import SimpleCookieStorage, session_middleware
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    AuthService,
    ConfigurationWarning,
    CookieTicketPolicy,
    SessionTicketPolicy,
    TicketCodec,
    auth,
    forget,
    get_auth,
    remember,
)

from .apps import make_app
from .conftest import OTHER_SECRET, SECRET, Clock
from .cookies import raw_set_cookie, set_cookies
from .test_tickets import retarget


async def test_login_sets_a_hardened_cookie_and_identifies_later_requests(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(make_app(CookieTicketPolicy(SECRET, 3600)))
    assert await (await client.get("/whoami")).text() == "None"
    assert (await client.get("/private")).status == 401

    response = await client.get("/login", params={"user": "alice"})
    cookie = set_cookies(response)["AUTH_TKT"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == "3600"
    assert not cookie["secure"]
    header = raw_set_cookie(response, "AUTH_TKT")
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header

    assert await (await client.get("/whoami")).text() == "alice"
    private = await client.get("/private")
    assert private.status == 200
    assert await private.text() == "private for alice"


async def test_cookie_survives_a_raised_redirect(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app(CookieTicketPolicy(SECRET, 60)))
    response = await client.get(
        "/login-redirect", params={"user": "bob"}, allow_redirects=False
    )
    assert response.status == 302
    assert "AUTH_TKT" in set_cookies(response)
    assert await (await client.get("/whoami")).text() == "bob"


async def test_logout_deletes_the_cookie_with_the_same_scope_and_flags(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = CookieTicketPolicy(
        SECRET, 60, cookie_name="sid", path="/", domain="127.0.0.1", samesite="Strict"
    )
    client = await aiohttp_client(make_app(policy))
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/whoami")).text() == "alice"

    response = await client.get("/logout")
    deleted = set_cookies(response)["sid"]
    assert deleted.value == ""
    assert deleted["max-age"] == "0"
    assert deleted["domain"] == "127.0.0.1"
    assert deleted["path"] == "/"
    assert deleted["samesite"] == "Strict"
    assert deleted["httponly"] is True
    assert await (await client.get("/whoami")).text() == "None"


async def test_identity_follows_remember_and_forget_within_one_request(
    aiohttp_client: AiohttpClient,
) -> None:
    async def switch(request: web.Request) -> web.Response:
        seen = [await get_auth(request)]
        await remember(request, "carol")
        seen.append(await get_auth(request))
        await AuthService.of(request).forget(request)
        seen.append(await get_auth(request))
        return web.Response(text=repr(seen))

    app = make_app(CookieTicketPolicy(SECRET, 60))
    app.router.add_get("/switch", switch)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/switch")).text() == "['alice', 'carol', None]"


def reissuing_app(**options: object) -> tuple[web.Application, Clock]:
    """max_age 100 s, reissue when under 50 s remain; the codec's clock is ours."""
    clock = Clock()
    policy = CookieTicketPolicy(
        TicketCodec(SECRET, clock=clock),
        100,
        reissue_time=50,
        **options,  # type: ignore[arg-type]
    )
    app = make_app(policy)

    async def status(request: web.Request) -> web.StreamResponse:
        user = await get_auth(request)
        if request.match_info["code"] == "404":
            raise web.HTTPNotFound(text=str(user))
        return web.Response(status=int(request.match_info["code"]), text=str(user))

    async def streamed(request: web.Request) -> web.StreamResponse:
        await get_auth(request)
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"streamed")
        return response

    async def identify_then_logout(request: web.Request) -> web.Response:
        assert await get_auth(request) is not None
        await AuthService.of(request).forget(request)
        return web.Response(text="bye")

    app.add_routes(
        [
            web.get("/status/{code}", status),
            web.get("/streamed", streamed),
            web.get("/identify-then-logout", identify_then_logout),
        ]
    )
    return app, clock


async def test_reissue_only_on_success_responses_near_expiry(
    aiohttp_client: AiohttpClient,
) -> None:
    app, clock = reissuing_app()
    client = await aiohttp_client(app)
    first = set_cookies(await client.get("/login", params={"user": "alice"}))[
        "AUTH_TKT"
    ]

    clock.now += 10  # 90 s left: no reissue yet
    assert "AUTH_TKT" not in set_cookies(await client.get("/status/200"))

    clock.now += 45  # 45 s left: reissue, but not on a 404 nor a streamed response
    assert "AUTH_TKT" not in set_cookies(await client.get("/status/404"))
    streamed = await client.get("/streamed")
    assert await streamed.text() == "streamed"
    assert "AUTH_TKT" not in set_cookies(streamed)

    renewed = set_cookies(await client.get("/status/204"))["AUTH_TKT"]
    codec = TicketCodec(SECRET, clock=clock)
    old, new = codec.decode(first.value), codec.decode(renewed.value)
    assert new.expires_ms == old.expires_ms + 55_000
    assert new.login_ms == old.login_ms

    clock.now += 90  # the first ticket is dead, the reissued one lives
    assert await (await client.get("/whoami")).text() == "alice"


async def test_forget_wins_over_a_pending_reissue(
    aiohttp_client: AiohttpClient,
) -> None:
    app, clock = reissuing_app()
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 60
    response = await client.get("/identify-then-logout")
    assert set_cookies(response)["AUTH_TKT"].value == ""
    assert await (await client.get("/whoami")).text() == "None"


async def test_max_lifetime_is_never_extended_by_reissue(
    aiohttp_client: AiohttpClient,
) -> None:
    app, clock = reissuing_app(max_lifetime=120)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    for step in (55, 50):  # keep reissuing: at 55 s and 105 s after login
        clock.now += step
        assert await (await client.get("/status/200")).text() == "alice"
    clock.now += 14.999
    assert await (await client.get("/whoami")).text() == "alice"
    clock.now += 0.001  # 120 s after login
    assert await (await client.get("/whoami")).text() == "None"


async def test_ticket_from_an_older_key_is_reissued_with_the_newest(
    aiohttp_client: AiohttpClient,
) -> None:
    old_codec = TicketCodec(OTHER_SECRET)
    client = await aiohttp_client(
        make_app(CookieTicketPolicy([SECRET, OTHER_SECRET], 60))
    )
    old = old_codec.encode(old_codec.issue("alice", 60))
    client.session.cookie_jar.update_cookies({"AUTH_TKT": old})
    response = await client.get("/whoami")
    assert await response.text() == "alice"
    renewed = set_cookies(response)["AUTH_TKT"].value
    assert TicketCodec(SECRET).decode(renewed).user_id == "alice"


async def test_a_ticket_of_the_earlier_format_stays_valid_and_renews_in_v2(
    aiohttp_client: AiohttpClient,
) -> None:
    """A cookie an earlier version wrote (format v1) keeps its user logged in
    until it expires; its renewal is written in the current format, with the
    same login time."""
    clock = Clock()
    earlier = TicketCodec(SECRET, clock=clock, write_version=1)
    client = await aiohttp_client(
        make_app(
            CookieTicketPolicy(TicketCodec(SECRET, clock=clock), 60, reissue_time=30)
        )
    )
    old = earlier.encode(earlier.issue("alice", 60))
    assert old.startswith("v1.")
    client.session.cookie_jar.update_cookies({"AUTH_TKT": old})
    response = await client.get("/whoami")
    assert await response.text() == "alice"
    assert "AUTH_TKT" not in set_cookies(response)  # not yet due for renewal
    clock.now += 31
    response = await client.get("/whoami")
    assert await response.text() == "alice"
    renewed = set_cookies(response)["AUTH_TKT"].value
    assert renewed.startswith("v2.")
    ticket = TicketCodec(SECRET, clock=clock).decode(renewed)
    assert ticket.login_ms == earlier.decode(old).login_ms
    clock.now += 30  # the v1 ticket has expired; the renewed one holds
    client.session.cookie_jar.clear()
    for cookie, who in ((old, "None"), (renewed, "alice")):
        response = await client.get("/whoami", headers={"Cookie": f"AUTH_TKT={cookie}"})
        assert await response.text() == who


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        "garbage",
        "v1." + "A" * 5000,
        "v1.x.y",
        "\u00e9\u00e9",
        "v1.....",
        "v2.",
        "v2.AAAA",
        "v2." + "A" * 92,
        "v2.\u00e9AAA",
    ],
)
async def test_bad_cookies_are_anonymous_never_errors(
    aiohttp_client: AiohttpClient, cookie: str
) -> None:
    client = await aiohttp_client(make_app(CookieTicketPolicy(SECRET, 60)))
    response = await client.get("/private", headers={"Cookie": f"AUTH_TKT={cookie}"})
    assert response.status == 401


async def test_tampered_and_expired_cookies_are_refused(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()
    client = await aiohttp_client(
        make_app(CookieTicketPolicy(TicketCodec(SECRET, clock=clock), 60))
    )
    value = set_cookies(await client.get("/login", params={"user": "alice"}))[
        "AUTH_TKT"
    ].value
    tampered = retarget(value, "bob")
    client.session.cookie_jar.clear()
    response = await client.get("/private", headers={"Cookie": f"AUTH_TKT={tampered}"})
    assert response.status == 401
    assert (
        await client.get("/private", headers={"Cookie": f"AUTH_TKT={value}"})
    ).status == 200
    clock.now += 60
    assert (
        await client.get("/private", headers={"Cookie": f"AUTH_TKT={value}"})
    ).status == 401


def remote_from_header(app: web.Application) -> None:
    """Stands in for aiohttp-remotes: the peer address comes from a proxy header."""

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        changes: dict[str, str] = {}
        if "X-Test-Remote" in request.headers:
            changes["remote"] = request.headers["X-Test-Remote"]
        if "X-Test-Scheme" in request.headers:
            changes["scheme"] = request.headers["X-Test-Scheme"]
        return await handler(request.clone(**changes) if changes else request)  # type: ignore[arg-type]

    app.middlewares.insert(0, forwarded)


@pytest.mark.parametrize(
    ("login_from", "same_client", "other_client"),
    [
        ("192.0.2.7", "192.0.2.7", "192.0.2.8"),
        ("2001:db8::1", "2001:0db8:0:0::1", "2001:db8::2"),
        ("::ffff:192.0.2.7", "192.0.2.7", "::ffff:192.0.2.8"),
    ],
)
async def test_include_ip_binds_the_ticket_to_the_client_address(
    aiohttp_client: AiohttpClient, login_from: str, same_client: str, other_client: str
) -> None:
    app = make_app(CookieTicketPolicy(SECRET, 60, include_ip=True))
    remote_from_header(app)
    client = await aiohttp_client(app)
    await client.get(
        "/login", params={"user": "alice"}, headers={"X-Test-Remote": login_from}
    )
    same = await client.get("/whoami", headers={"X-Test-Remote": same_client})
    assert await same.text() == "alice"
    other = await client.get("/whoami", headers={"X-Test-Remote": other_client})
    assert await other.text() == "None"


async def test_include_ip_with_the_real_loopback_address(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        make_app(CookieTicketPolicy(SECRET, 60, include_ip=True))
    )
    response = await client.get("/login", params={"user": "alice"})
    ticket = TicketCodec(SECRET).decode(
        set_cookies(response)["AUTH_TKT"].value, ip="127.0.0.1"
    )
    assert ticket.ip == "127.0.0.1"
    assert await (await client.get("/whoami")).text() == "alice"


async def test_secure_flag_follows_https_unless_set(
    aiohttp_client: AiohttpClient,
) -> None:
    for secure, scheme, expected in [
        (None, "https", True),
        (None, "http", False),
        (True, "http", True),
        (False, "https", False),
    ]:
        app = make_app(CookieTicketPolicy(SECRET, 60, secure=secure))
        remote_from_header(app)
        client = await aiohttp_client(app)
        response = await client.get(
            "/login", params={"user": "a"}, headers={"X-Test-Scheme": scheme}
        )
        assert bool(set_cookies(response)["AUTH_TKT"]["secure"]) is expected, (
            secure,
            scheme,
        )


@pytest.mark.parametrize("installed", ["setup", "auth_middleware"])
@pytest.mark.parametrize("action", ["remember", "forget"])
@pytest.mark.parametrize("kind", ["cookie", "session"])
async def test_a_login_or_logout_lost_to_a_streamed_response_is_an_error(
    aiohttp_client: AiohttpClient,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    action: str,
    installed: str,
) -> None:
    """A ticket cannot be written into a response already started: the
    policy refuses to lose the login or logout silently, and the request
    ends in a logged RuntimeError that says what to do."""
    policy: CookieTicketPolicy | SessionTicketPolicy
    middlewares: list[Middleware] = []
    if kind == "cookie":
        policy = CookieTicketPolicy(SECRET, 60)
    else:
        policy = SessionTicketPolicy(SECRET, 60)
        middlewares.append(session_middleware(SimpleCookieStorage()))

    async def late(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        if action == "remember":
            await remember(request, "bob")
        else:
            await forget(request)
        await response.write(b"streamed")
        return response

    async def login(request: web.Request) -> web.Response:
        await remember(request, "alice")
        return web.Response(text="in")

    if installed == "setup":
        app = web.Application(middlewares=middlewares)
        AuthService(policy).setup(app)
    else:
        app = web.Application(middlewares=[*middlewares, auth.auth_middleware(policy)])
    app.add_routes(
        [web.get("/login", login), web.get("/late", late), web.get("/who", who)]
    )
    client = await aiohttp_client(app)
    await client.get("/login")
    with (
        caplog.at_level(logging.ERROR),
        contextlib.suppress(aiohttp.ClientPayloadError),
    ):
        response = await client.get("/late")
        assert "AUTH_TKT" not in set_cookies(response)
        await response.read()
    assert "Call remember() or forget() before StreamResponse.prepare()" in caplog.text
    # The cookie is as it was; a logout has ended its login session all the
    # same, on the server, where a cookie left behind cannot undo it.
    expected = "alice" if action == "remember" else "None"
    assert await (await client.get("/who")).text() == expected


async def who(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_age": 0}, "positive"),
        ({"max_age": -1}, "negative"),
        ({"reissue_time": -5}, "reissue_time"),
        ({"samesite": "lax"}, "samesite"),
        ({"samesite": "None", "secure": False}, "Secure"),
        ({"samesite": "None"}, r"samesite='None' needs secure=True"),
        ({"cookie_name": "__Host-auth"}, "__Host- cookie needs secure=True"),
        ({"cookie_name": "__Secure-auth", "secure": False}, "needs secure=True"),
        ({"cookie_name": "__Host-auth", "secure": True, "path": "/a"}, "path='/'"),
        ({"cookie_name": "__Host-auth", "secure": True, "domain": "x.test"}, "domain"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"max_age": 60, **options}
    with pytest.raises(ValueError, match=message):
        CookieTicketPolicy(SECRET, **arguments)  # type: ignore[arg-type]


def test_policy_repr_hides_the_secret() -> None:
    text = repr(CookieTicketPolicy(SECRET, 60))
    assert "0123456789" not in text
    assert "max_age=60" in text


async def test_include_ip_over_a_unix_socket_refuses_to_bind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No peer address: no ticket is bound to "no address", which every
    client of the socket would share; login fails loudly, tickets are refused."""
    policy = CookieTicketPolicy(SECRET, 60, include_ip=True)
    app = make_app(policy)
    runner = web.AppRunner(app)
    await runner.setup()
    path = str(tmp_path / "guard.sock")
    await web.UnixSite(runner, path).start()
    # What an earlier version bound to the empty address.
    unbound = policy.codec.encode(policy.codec.issue("al", 60, ip=""))
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=path)
        ) as session:
            with caplog.at_level(logging.ERROR):
                async with session.get(
                    "http://localhost/login", params={"user": "al"}
                ) as login:
                    assert login.status == 500
                    assert "AUTH_TKT" not in set_cookies(login)
            assert "is not an IP address" in caplog.text
            for _ in range(2):
                async with session.get(
                    "http://localhost/whoami", headers={"Cookie": f"AUTH_TKT={unbound}"}
                ) as who:
                    assert await who.text() == "None"
    finally:
        await runner.cleanup()
    refusals = [r for r in caplog.records if "refuses every ticket" in r.message]
    assert len(refusals) == 1  # said once, not per request


async def test_include_ip_with_a_peer_that_is_not_an_address(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = CookieTicketPolicy(SECRET, 60, include_ip=True)
    app = make_app(policy)
    remote_from_header(app)
    client = await aiohttp_client(app)
    proxy = {"X-Test-Remote": "unknown-peer"}
    login = await client.get("/login", params={"user": "al"}, headers=proxy)
    assert login.status == 500
    forged = policy.codec.encode(policy.codec.issue("al", 60, ip="unknown-peer"))
    who = await client.get("/whoami", headers={**proxy, "Cookie": f"AUTH_TKT={forged}"})
    assert await who.text() == "None"
    with pytest.raises(ValueError, match="IP address"):
        policy.ticket_for("al", "unknown-peer")
    # A real address still works, in any spelling.
    mapped = {"X-Test-Remote": "::ffff:10.0.0.1"}
    await client.get("/login", params={"user": "al"}, headers=mapped)
    who = await client.get("/whoami", headers={"X-Test-Remote": "10.0.0.1"})
    assert await who.text() == "al"


async def test_lowering_max_lifetime_applies_to_tickets_already_out(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    old = codec.encode(codec.issue("alice", 3600))  # issued without a lifetime cap
    with pytest.warns(ConfigurationWarning, match="max_lifetime .* shorter"):
        policy = CookieTicketPolicy(codec, 3600, max_lifetime=600)
    client = await aiohttp_client(make_app(policy))
    cookie = {"Cookie": f"AUTH_TKT={old}"}
    clock.now += 599
    assert await (await client.get("/whoami", headers=cookie)).text() == "alice"
    clock.now += 1
    assert await (await client.get("/whoami", headers=cookie)).text() == "None"


@pytest.mark.parametrize("policy_class", [CookieTicketPolicy, SessionTicketPolicy])
async def test_the_old_get_method_reads_the_user_id(
    aiohttp_client: AiohttpClient,
    policy_class: type[CookieTicketPolicy | SessionTicketPolicy],
) -> None:
    policy = policy_class(SECRET, 60)

    async def via_get(request: web.Request) -> web.Response:
        return web.Response(text=str(await policy.get(request)))

    app = make_app(policy)
    app.middlewares.insert(0, session_middleware(SimpleCookieStorage()))
    app.router.add_get("/get", via_get)
    client = await aiohttp_client(app)
    assert await (await client.get("/get")).text() == "None"
    await client.get("/login", params={"user": "dora"})
    assert await (await client.get("/get")).text() == "dora"
    assert repr(policy) in repr(AuthService(policy))


def test_policies_can_be_made_in_any_thread() -> None:
    """aiohttp's request keys fail when made outside an importing module; a
    policy built in a worker thread (found by the request fuzzer) must work."""
    made: list[object] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            made.extend(
                [CookieTicketPolicy(SECRET, 60), SessionTicketPolicy(SECRET, 60)]
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    assert errors == []
    assert len(made) == 2


async def test_host_prefixed_cookies(aiohttp_client: AiohttpClient) -> None:
    policy = CookieTicketPolicy(SECRET, 60, cookie_name="__Host-auth", secure=True)
    client = await aiohttp_client(make_app(policy))
    cookie = set_cookies(await client.get("/login", params={"user": "a"}))[
        "__Host-auth"
    ]
    assert cookie["secure"] is True
    assert cookie["path"] == "/"
    assert not cookie["domain"]
