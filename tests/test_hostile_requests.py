"""Hostile and odd requests through a real server: never a 500."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Authenticated,
    BearerTicketPolicy,
    CookieTicketPolicy,
    TicketCodec,
)

from .apps import make_app
from .conftest import SECRET

Client = TestClient[web.Request, web.Application]


async def raw_status(client: Client, request: bytes) -> int:
    """Send raw bytes as a request and read the status of the answer."""
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return int(status_line.split()[1])


def valid_ticket(user_id: str = "alice") -> str:
    codec = TicketCodec(SECRET)
    return codec.encode(codec.issue(user_id, 600))


def request_with(header: bytes) -> bytes:
    return (
        b"GET /private HTTP/1.1\r\nHost: x\r\n"
        + header
        + b"\r\nConnection: close\r\n\r\n"
    )


@pytest.fixture
async def client(aiohttp_client: AiohttpClient) -> Client:
    policy = [CookieTicketPolicy(SECRET, 600), BearerTicketPolicy(SECRET, 600)]
    return await aiohttp_client(make_app(policy))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header",
    [
        b"Cookie: AUTH_TKT=",
        b"Cookie: AUTH_TKT",
        b"Cookie: ;;;;=;=",
        b"Cookie: AUTH_TKT=\xff\xfe\xfd",
        b"Cookie: AUTH_TKT=v1.\xc3\x28.x",
        b'Cookie: AUTH_TKT="unterminated',
        b"Authorization: Bearer",
        b"Authorization: Bearer \xff\xff",
        b"Authorization: bearer " + b"A" * 5000,
        b"Authorization: Basic dXNlcjpwYXNz",
        b"Authorization: " + b"\x00\x01",
        b"Cookie: " + b"; ".join(b"AUTH_TKT=junk%d" % i for i in range(300)),
    ],
)
async def test_odd_credentials_are_not_authenticated(
    client: Client, header: bytes
) -> None:
    status = await raw_status(client, request_with(header))
    assert status in (400, 401), header[:40]


async def test_headers_over_aiohttp_limits_are_refused_cleanly(client: Client) -> None:
    huge = b"Cookie: AUTH_TKT=" + b"A" * 20_000
    assert await raw_status(client, request_with(huge)) in (400, 431)
    many = b"".join(b"X-%d: y\r\n" % i for i in range(200))[:-2]
    assert await raw_status(client, request_with(many)) in (400, 401, 431)


async def test_many_cookies_with_the_same_name(client: Client) -> None:
    good = valid_ticket().encode()
    for cookies in (
        b"AUTH_TKT=junk; AUTH_TKT=" + good,
        b"AUTH_TKT=" + good + b"; AUTH_TKT=junk",
        b"AUTH_TKT=" + good + b"; AUTH_TKT=" + valid_ticket("bob").encode(),
    ):
        status = await raw_status(client, request_with(b"Cookie: " + cookies))
        assert status in (200, 401)


async def test_a_valid_ticket_over_raw_http_still_works(client: Client) -> None:
    cookie = b"Cookie: AUTH_TKT=" + valid_ticket().encode()
    assert await raw_status(client, request_with(cookie)) == 200
    bearer = b"Authorization: Bearer " + valid_ticket().encode()
    assert await raw_status(client, request_with(bearer)) == 200


async def test_websockets_are_refused_before_the_upgrade(
    aiohttp_client: AiohttpClient,
) -> None:
    @Authenticated()
    async def chat(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str(f"hello {await Authenticated()(request)}")
        await socket.close()
        return socket

    app = make_app(CookieTicketPolicy(SECRET, 600))
    app.router.add_get("/chat", chat)
    client = await aiohttp_client(app)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/chat")
    assert refused.value.status == 401

    await client.get("/login", params={"user": "alice"})
    socket = await client.ws_connect("/chat")
    assert await socket.receive_str() == "hello alice"
    await socket.close()
