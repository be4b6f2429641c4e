"""Bearer tokens for API clients, and cookie and bearer policies chained."""

from __future__ import annotations

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Authenticated,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    PolicyChain,
    TicketCodec,
    forget,
    get_auth,
    remember,
)

from .apps import make_app
from .conftest import OTHER_SECRET, SECRET, Clock
from .cookies import set_cookies


async def token_login(request: web.Request) -> web.Response:
    """An API login endpoint: hands out the token in the body."""
    token = await remember(request, request.query["user"])
    return web.json_response({"token": token})


async def forget_then_whoami(request: web.Request) -> web.Response:
    await forget(request)
    return web.Response(text=str(await get_auth(request)))


def api_app(policy: object) -> web.Application:
    app = make_app(policy)  # type: ignore[arg-type]
    app.router.add_post("/token", token_login)
    app.router.add_get("/forget-then-whoami", forget_then_whoami)
    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_bearer_tokens_identify_api_clients(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(api_app(BearerTicketPolicy(SECRET, 600)))
    login = await client.post("/token", params={"user": "robot"})
    assert "Set-Cookie" not in login.headers
    token = (await login.json())["token"]
    assert TicketCodec(SECRET).decode(token).user_id == "robot"

    ok = await client.get("/private", headers=bearer(token))
    assert await ok.text() == "private for robot"
    lower = await client.get("/private", headers={"Authorization": f"bearer  {token} "})
    assert lower.status == 200

    missing = await client.get("/private")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="aiohttp_guard"'

    for header in (f"Bearer {token}x", "Bearer ", f"Basic {token}", "Bearer"):
        refused = await client.get("/private", headers={"Authorization": header})
        assert refused.status == 401, header
    invalid = await client.get("/private", headers=bearer("nonsense"))
    assert invalid.headers["WWW-Authenticate"] == (
        'Bearer realm="aiohttp_guard", error="invalid_token"'
    )


async def test_bearer_tokens_expire_and_can_bind_the_address(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()
    policy = BearerTicketPolicy(TicketCodec(SECRET, clock=clock), 60, include_ip=True)
    client = await aiohttp_client(api_app(policy))
    token = (await (await client.post("/token", params={"user": "r"})).json())["token"]
    assert (
        TicketCodec(SECRET, clock=clock).decode(token, ip="127.0.0.1").ip == "127.0.0.1"
    )
    assert (await client.get("/private", headers=bearer(token))).status == 200
    assert (
        await (await client.get("/logout", headers=bearer(token))).text()
        == "logged out"
    )
    # The logout ended the token's login session: the token is refused
    # although the client still holds it.
    assert (await client.get("/private", headers=bearer(token))).status == 401
    token = (await (await client.post("/token", params={"user": "r"})).json())["token"]
    assert (await client.get("/private", headers=bearer(token))).status == 200
    clock.now += 60
    assert (await client.get("/private", headers=bearer(token))).status == 401


def test_bearer_realm_is_checked() -> None:
    with pytest.raises(ValueError, match="realm"):
        BearerTicketPolicy(SECRET, 60, realm='a"b')


def chained_app() -> web.Application:
    cookie = CookieTicketPolicy(SECRET, 600)
    token = BearerTicketPolicy(OTHER_SECRET, 600)
    app = make_app([cookie, token])  # type: ignore[arg-type]

    async def token_for(request: web.Request) -> web.Response:
        """Give an API token to a user logged in with a cookie."""
        user_id = await Authenticated()(request)
        return web.json_response({"token": await token.remember(request, user_id)})

    async def relogin(request: web.Request) -> web.Response:
        await Authenticated()(request)
        return web.json_response({"token": await remember(request, "again")})

    async def switch(request: web.Request) -> web.Response:
        chain = AuthService.of(request).policy
        before = await chain.get(request)
        await forget(request)
        return web.Response(text=f"{before} {await get_auth(request)}")

    app.add_routes(
        [
            web.post("/token-for", token_for),
            web.post("/relogin", relogin),
            web.post("/switch", switch),
        ]
    )
    return app


async def test_a_chain_serves_browsers_and_api_clients(
    aiohttp_client: AiohttpClient,
) -> None:
    app = chained_app()
    assert isinstance(AuthService.of(app).policy, PolicyChain)
    browser = await aiohttp_client(app)

    anonymous = await browser.get("/private")
    assert anonymous.headers["WWW-Authenticate"] == (
        'Cookie realm="aiohttp_guard", cookie-name="AUTH_TKT", '
        'Bearer realm="aiohttp_guard"'
    )

    login = await browser.get(
        "/login", params={"user": "alice"}
    )  # first policy: cookie
    assert "AUTH_TKT" in set_cookies(login)
    token = (await (await browser.post("/token-for")).json())["token"]

    headers = bearer(token)
    browser.session.cookie_jar.clear()
    assert (
        await (await browser.get("/private", headers=headers)).text()
        == "private for alice"
    )
    # remember and forget go to the policy that authenticated the request
    relogin = await browser.post("/relogin", headers=headers)
    assert "Set-Cookie" not in relogin.headers
    assert (
        TicketCodec(OTHER_SECRET).decode((await relogin.json())["token"]).user_id
        == "again"
    )

    await browser.get("/login", params={"user": "alice"})
    switched = await browser.post("/switch")
    assert set_cookies(switched)["AUTH_TKT"].value == ""
    assert await switched.text() == "alice None"


def test_a_chain_needs_policies() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PolicyChain([])
    with pytest.raises(TypeError, match="AbstractAuthentication"):
        PolicyChain([CookieTicketPolicy(SECRET, 60), "bearer"])  # type: ignore[list-item]
    chain = PolicyChain([CookieTicketPolicy(SECRET, 60)])
    assert repr(chain).startswith("PolicyChain([CookieTicketPolicy(")
