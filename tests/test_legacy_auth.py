"""The aiohttp_auth documentation's authentication examples, unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import CookieTicketPolicy, SessionTicketPolicy, auth

from . import seed_auth_examples as seed
from .test_cookie_policy import remote_from_header

INITS: dict[str, Callable[[], web.Application]] = {
    "cookie": seed.init_cookie,
    "session": seed.init_session,
}


@pytest.mark.parametrize("init", INITS)
async def test_documented_login_check_and_logout(
    aiohttp_client: AiohttpClient, init: str
) -> None:
    client = await aiohttp_client(INITS[init]())

    assert await (await client.get("/test0")).text() == "Not authenticated"
    assert (await client.get("/test1")).status == 403
    assert (await client.get("/logout")).status == 403

    wrong = await client.post("/login", data={"username": "user", "password": "nope"})
    assert wrong.status == 403
    unknown = await client.post(
        "/login", data={"username": "eve", "password": "password"}
    )
    assert unknown.status == 403
    assert (await client.get("/test1")).status == 403

    login = await client.post(
        "/login", data={"username": "user", "password": "password"}
    )
    assert await login.text() == "OK"
    assert await (await client.get("/test0")).text() == "OK"
    assert await (await client.get("/test1")).text() == "OK"

    assert await (await client.get("/logout")).text() == "OK"
    assert await (await client.get("/test0")).text() == "Not authenticated"
    assert (await client.get("/test1")).status == 403


@pytest.mark.parametrize("init", INITS)
async def test_documented_include_ip_binds_the_login(
    aiohttp_client: AiohttpClient, init: str
) -> None:
    app = INITS[init]()
    remote_from_header(app)
    client = await aiohttp_client(app)
    here = {"X-Test-Remote": "198.51.100.4"}
    await client.post(
        "/login",
        data={"username": "super_user", "password": "super_password"},
        headers=here,
    )
    assert await (await client.get("/test0", headers=here)).text() == "OK"
    elsewhere = {"X-Test-Remote": "2001:db8::4"}
    assert (
        await (await client.get("/test0", headers=elsewhere)).text()
        == "Not authenticated"
    )


def test_old_names_are_the_new_policies_with_the_same_positional_signature() -> None:
    secret = b"s" * 32
    cookie = auth.CookieTktAuthentication(secret, 60, 30, True, "OLD")
    assert isinstance(cookie, CookieTicketPolicy)
    assert (
        cookie.max_age,
        cookie.reissue_time,
        cookie.include_ip,
        cookie.cookie_name,
    ) == (
        60,
        30,
        True,
        "OLD",
    )
    session = auth.SessionTktAuthentication(secret, 60, 30, True, "OLD")
    assert isinstance(session, SessionTicketPolicy)
    assert issubclass(auth.CookieTktAuthentication, auth.AbstractAuthentication)


async def test_auth_required_guards_view_methods_too(
    aiohttp_client: AiohttpClient,
) -> None:
    class Profile(web.View):
        @auth.auth_required
        async def get(self) -> web.Response:
            return web.Response(text=str(await auth.get_auth(self.request)))

    app = seed.init_cookie()
    app.router.add_view("/profile", Profile)
    client = await aiohttp_client(app)
    assert (await client.get("/profile")).status == 403
    await client.post("/login", data={"username": "user", "password": "password"})
    assert await (await client.get("/profile")).text() == "user"
