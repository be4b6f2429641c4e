"""A guard that refuses after the handler began its own response (a
`StreamResponse` it prepared): the refusal cannot follow on the wire, so
the connection closes on what was sent, never with a second response inside
the first one's body, and never with what the guard protected."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

from aiohttp_guard import Authenticated, AuthService, CookieTicketPolicy, Public

from .conftest import SECRET, free_port


@Public()
async def streaming(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"public part;")
    await Authenticated()(request)  # anonymous: refused
    await response.write(b"private part")
    await response.write_eof()
    return response


async def raw_get(port: int, path: str) -> bytes:
    """Everything the server on `port` sends for one GET, until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    await writer.drain()
    received = await asyncio.wait_for(reader.read(), 10)  # until closed
    writer.close()
    return received


async def test_a_refusal_after_the_response_began_closes_the_connection() -> None:
    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600)).setup(app)
    app.router.add_get("/stream", streaming)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        received = await raw_get(port, "/stream")
    finally:
        await server.close()
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert b"public part;" in received
    assert b"private part" not in received
    assert received.count(b"HTTP/1.1") == 1  # no refusal inside the body
    assert not received.endswith(b"0\r\n\r\n")  # cut short, not complete


async def test_a_mocked_request_is_refused_as_a_served_one() -> None:
    """aiohttp's `make_mocked_request`, which many apps' tests use: its
    writer is a Mock, which says nothing about a response begun."""
    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600)).setup(app)

    @Authenticated()
    async def private(request: web.Request) -> web.Response:
        return web.Response(text="private")

    app.router.add_get("/private", private)
    app.freeze()
    request = make_mocked_request("GET", "/private", app=app)
    # What aiohttp's server calls for a request, as in-process tests do.
    response = await app._handle(request)  # pyright: ignore[reportPrivateUsage]
    assert response.status == 401


async def test_a_refusal_after_100_continue_is_sent() -> None:
    """An `Expect: 100-continue` answer written before the handler runs is
    no response the handler began: the refusal follows it."""
    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 600)).setup(app)

    @Authenticated()
    async def upload(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app.router.add_post("/upload", upload)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        go_on = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert go_on.startswith(b"HTTP/1.1 100 Continue")
        writer.write(b"hello")
        await writer.drain()
        received = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await server.close()
    assert b"HTTP/1.1 401 Unauthorized" in received
