"""Coverage-guided fuzzing of whole requests: arbitrary Cookie and
Authorization headers sent to a real server running the middleware and
guards, with cookie tickets, bearer tickets and a provider's JWTs (its keys
given, nothing fetched). Every answer must be 200, 400, 401 or 403: never a
500.

    python -m fuzz.fuzz_requests --seconds 600
"""

from __future__ import annotations

import asyncio
import socket
import threading

import atheris

with atheris.instrument_imports():
    from aiohttp import web

    from aiohttp_guard import (
        ACL,
        Allow,
        AuthService,
        BearerTicketPolicy,
        CookieTicketPolicy,
        Everyone,
        JWTPolicy,
        Requires,
        TicketCodec,
        get_auth,
    )
    from aiohttp_guard.demo.provider import DemoProvider

from ._harness import run

SECRET = b"fuzzing secret, sixteen bytes+"
CODEC = TicketCodec(SECRET)
PROVIDER = DemoProvider("https://idp.fuzz")
ALLOWED_STATUSES = {200, 400, 401, 403, 431}


@Requires("read", ACL([(Allow, Everyone, "read"), (Allow, "editors", "edit")]))
async def public(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


@Requires("edit", ACL([(Allow, "editors", "edit")]))
async def private(request: web.Request) -> web.Response:
    return web.Response(text="edited")


def make_app() -> web.Application:
    app = web.Application()
    policies = [
        CookieTicketPolicy(CODEC, 600, reissue_time=600, accept_legacy=True),
        BearerTicketPolicy(CODEC, 600),
        JWTPolicy(
            issuer=PROVIDER.issuer, audience=PROVIDER.audience, keys=PROVIDER.jwk_set()
        ),
    ]
    AuthService(policies, groups=lambda user: ("editors",) if user else ()).setup(app)
    app.add_routes([web.get("/public", public), web.get("/private", private)])
    return app


def start_server() -> int:
    """Serve the app from a thread of its own; returns the port."""
    ready = threading.Event()
    port: list[int] = []

    def serve() -> None:
        async def main() -> None:
            runner = web.AppRunner(make_app(), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port.append(runner.addresses[0][1])
            ready.set()
            await asyncio.Event().wait()

        asyncio.run(main())

    threading.Thread(target=serve, daemon=True).start()
    ready.wait(10)
    return port[0]


PORT = start_server()


def one_line(value: bytes) -> bytes:
    """Header bytes that stay one header: line breaks would start another."""
    return value.replace(b"\r", b"").replace(b"\n", b"")


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    path = b"/private" if provider.ConsumeBool() else b"/public"
    cookie = one_line(provider.ConsumeBytes(provider.ConsumeIntInRange(0, 4096)))
    authorization = one_line(provider.ConsumeBytes(provider.remaining_bytes()))
    request = (
        b"GET " + path + b" HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
        b"Cookie: " + cookie + b"\r\nAuthorization: " + authorization + b"\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", PORT), timeout=10) as connection:
        connection.sendall(request)
        status_line = connection.makefile("rb").readline()
    status = int(status_line.split()[1])
    if status not in ALLOWED_STATUSES:
        raise AssertionError(f"{status} for {request!r}")


def seeds() -> list[bytes]:
    ticket = CODEC.encode(CODEC.issue("alice", 600)).encode()
    tokens = [
        PROVIDER.token("alice", algorithm=algorithm, scope="read", lifetime=86000)
        for algorithm in ("RS256", "ES256", "EdDSA")
    ]
    return [
        b"\x01" + bytes([len(ticket) % 256, 0, 0, 0]) + ticket,
        b"\x00\x00\x00\x00\x00Bearer " + ticket,
        *(b"\x00\x00\x00\x00\x00Bearer " + token.encode() for token in tokens),
    ]


if __name__ == "__main__":
    run(test_one_input, seeds())
