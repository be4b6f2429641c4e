"""SessionTicketPolicy over the real aiohttp_session cookie storages."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from typing import cast

import pytest
from aiohttp import web
from aiohttp_session import (
    AbstractStorage,
    SimpleCookieStorage,
    get_session,
    session_middleware,
)
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import AuthService, SessionTicketPolicy, TicketCodec

from .apps import make_app
from .conftest import SECRET, Clock
from .cookies import set_cookies

STORAGES: dict[str, Callable[[], AbstractStorage]] = {
    "encrypted": lambda: EncryptedCookieStorage(os.urandom(32)),
    "simple": SimpleCookieStorage,
}


def session_app(
    policy: SessionTicketPolicy, storage: AbstractStorage
) -> web.Application:
    app = make_app(policy)
    app.middlewares.insert(0, session_middleware(storage))

    async def put(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["basket"] = request.query["item"]
        return web.Response(text="ok")

    async def basket(request: web.Request) -> web.Response:
        return web.Response(text=str((await get_session(request)).get("basket")))

    app.add_routes([web.get("/put", put), web.get("/basket", basket)])
    return app


@pytest.mark.parametrize("storage", STORAGES)
async def test_login_identity_and_logout(
    aiohttp_client: AiohttpClient, storage: str
) -> None:
    client = await aiohttp_client(
        session_app(
            SessionTicketPolicy(SECRET, 60, include_ip=True), STORAGES[storage]()
        )
    )
    assert (await client.get("/private")).status == 401
    login = await client.get(
        "/login-redirect", params={"user": "alice"}, allow_redirects=False
    )
    assert login.status == 302
    assert "AIOHTTP_SESSION" in set_cookies(login)
    assert await (await client.get("/private")).text() == "private for alice"
    await client.get("/logout")
    assert (await client.get("/private")).status == 401


def simple_session(client_cookie: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(client_cookie)
    return data


async def test_login_starts_a_new_session_and_keeps_anonymous_data(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        session_app(SessionTicketPolicy(SECRET, 600), SimpleCookieStorage())
    )
    # An anonymous session from long ago, as an attacker could plant it.
    planted = json.dumps({"created": 1, "session": {"basket": "apple"}})
    client.session.cookie_jar.update_cookies({"AIOHTTP_SESSION": planted})
    assert await (await client.get("/basket")).text() == "apple"

    login = await client.get("/login", params={"user": "alice"})
    after = simple_session(set_cookies(login)["AIOHTTP_SESSION"].value)
    assert after["created"] != 1
    assert await (await client.get("/basket")).text() == "apple"
    assert await (await client.get("/whoami")).text() == "alice"


async def test_another_users_session_data_does_not_carry_over(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        session_app(SessionTicketPolicy(SECRET, 60), SimpleCookieStorage())
    )
    await client.get("/login", params={"user": "alice"})
    await client.get("/put", params={"item": "alice's secret"})
    await client.get("/login", params={"user": "alice"})
    assert await (await client.get("/basket")).text() == "alice's secret"
    await client.get("/login", params={"user": "mallory"})
    assert await (await client.get("/basket")).text() == "None"


async def test_reissue_writes_the_session_only_on_success(
    aiohttp_client: AiohttpClient,
) -> None:
    clock = Clock()
    policy = SessionTicketPolicy(TicketCodec(SECRET, clock=clock), 100, reissue_time=50)
    app = session_app(policy, SimpleCookieStorage())

    async def fail(request: web.Request) -> web.Response:
        await AuthService.of(request).identify(request)
        raise web.HTTPBadRequest()

    app.router.add_get("/fail", fail)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 60
    assert "AIOHTTP_SESSION" not in set_cookies(await client.get("/fail"))
    renewed = set_cookies(await client.get("/whoami"))["AIOHTTP_SESSION"].value
    session = simple_session(renewed)["session"]
    assert isinstance(session, dict)
    ticket_text = cast("dict[str, str]", session)["AUTH_TKT"]
    assert TicketCodec(SECRET, clock=clock).decode(ticket_text).issued_ms == int(
        clock.now * 1000
    )
    clock.now += 60  # past the first ticket's expiry, inside the new one's
    assert await (await client.get("/whoami")).text() == "alice"


async def test_a_garbled_session_value_is_anonymous(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        session_app(SessionTicketPolicy(SECRET, 60), SimpleCookieStorage())
    )
    for value in (
        {"created": 1, "session": {"AUTH_TKT": 42}},
        {"session": {"AUTH_TKT": "v1.bad"}},
    ):
        cookie = json.dumps(value)
        response = await client.get("/private", cookies={"AIOHTTP_SESSION": cookie})
        assert response.status == 401


async def test_missing_session_middleware_is_a_clear_error(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(make_app(SessionTicketPolicy(SECRET, 60)))
    with caplog.at_level(logging.ERROR):
        response = await client.get("/whoami")
    assert response.status == 500
    assert "Install aiohttp_session middleware" in caplog.text


def redis_storage(redis_client: Redis, prefix: str) -> RedisStorage:
    """Sessions in Redis under the cookie `SID`, keyed under `prefix`."""
    return RedisStorage(
        redis_client,
        cookie_name="SID",
        key_factory=lambda: prefix + uuid.uuid4().hex,
    )


async def test_sessions_in_redis(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    storage = redis_storage(redis_client, redis_prefix)
    client = await aiohttp_client(session_app(SessionTicketPolicy(SECRET, 60), storage))

    await client.get("/put", params={"item": "apple"})
    before = next(c.value for c in client.session.cookie_jar if c.key == "SID")
    assert await redis_client.exists(f"SID_{before}")

    login = await client.get(
        "/login-redirect", params={"user": "alice"}, allow_redirects=False
    )
    after = set_cookies(login)["SID"].value
    assert after != before  # a new session id: a planted id is worthless
    assert await (await client.get("/whoami")).text() == "alice"
    assert await (await client.get("/basket")).text() == "apple"

    # Whoever held the old id is not logged in.
    old = await client.get("/whoami", cookies={"SID": before})
    assert await old.text() == "None"

    await client.get("/logout")
    assert await (await client.get("/whoami")).text() == "None"
    assert (await client.get("/private")).status == 401
    await redis_client.delete(f"SID_{before}", f"SID_{after}")
