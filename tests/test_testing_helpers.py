"""aiohttp_guard.testing logs users' test clients in."""

from __future__ import annotations

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    BearerTicketPolicy,
    CookieTicketPolicy,
    SessionTicketPolicy,
    TicketCodec,
    auth,
)
from aiohttp_guard.testing import bearer_header, log_in, log_out, ticket_cookie

from .apps import make_app, whoami
from .conftest import SECRET


@pytest.mark.parametrize("include_ip", [False, True])
async def test_log_in_and_out(aiohttp_client: AiohttpClient, include_ip: bool) -> None:
    client = await aiohttp_client(
        make_app(CookieTicketPolicy(SECRET, 60, include_ip=include_ip))
    )
    assert (await client.get("/private")).status == 401
    log_in(client, "alice")
    assert await (await client.get("/private")).text() == "private for alice"
    log_out(client)
    assert (await client.get("/private")).status == 401


async def test_ticket_cookie_is_accepted_by_the_policy(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = CookieTicketPolicy(SECRET, 60, cookie_name="sid")
    cookie = ticket_cookie(policy, "bob")
    assert list(cookie) == ["sid"]
    assert TicketCodec(SECRET).decode(cookie["sid"]).user_id == "bob"
    client = await aiohttp_client(make_app(policy))
    response = await client.get("/whoami", headers={"Cookie": f"sid={cookie['sid']}"})
    assert await response.text() == "bob"


async def test_log_in_explains_other_policies(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app(SessionTicketPolicy(SECRET, 60)))
    with pytest.raises(TypeError, match="login route"):
        log_in(client, "alice")


async def test_log_in_needs_a_service(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(web.Application())
    with pytest.raises(RuntimeError, match="setup"):
        log_in(client, "alice")


async def test_log_in_to_an_app_using_the_old_middleware(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = auth.CookieTktAuthentication(SECRET, 60, include_ip=True)
    app = web.Application(middlewares=[auth.auth_middleware(policy)])
    app.router.add_get("/whoami", whoami)
    client = await aiohttp_client(app)
    log_in(client, "alice", policy=policy)
    assert await (await client.get("/whoami")).text() == "alice"
    log_out(client, policy=policy)
    assert await (await client.get("/whoami")).text() == "None"


async def test_bearer_header_is_accepted(aiohttp_client: AiohttpClient) -> None:
    policy = BearerTicketPolicy(SECRET, 60, include_ip=True)
    client = await aiohttp_client(make_app(policy))
    response = await client.get("/whoami", headers=bearer_header(policy, "robot"))
    assert await response.text() == "robot"
    elsewhere = bearer_header(policy, "robot", ip="192.0.2.1")
    assert await (await client.get("/whoami", headers=elsewhere)).text() == "None"
