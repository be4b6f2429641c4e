"""The app the soak test loads: cookie and bearer tickets, an ACL, revocation.

`python -m benchmarks.soak_app --port P --secret HEX` (the soak script starts it).
"""

from __future__ import annotations

import argparse
from collections.abc import Hashable, Iterable

from aiohttp import web

from aiohttp_guard import (
    ACL,
    Allow,
    Authenticated,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    Everyone,
    Public,
    Requires,
    TicketCodec,
)

MAX_AGE = 600
#: Revoked when the server starts: tickets issued earlier are refused.
REVOKED_USER = "mallory"
EDITORS = {"alice"}
ARTICLES: ACL[str] = ACL([(Allow, Everyone, "read"), (Allow, "editors", "edit")])


async def groups(user_id: str | None) -> Iterable[Hashable] | None:
    return ("editors",) if user_id in EDITORS else ()


@Public()
async def public(request: web.Request) -> web.Response:
    return web.Response(text="public")


@Authenticated()
async def guarded(request: web.Request) -> web.Response:
    return web.Response(text="guarded")


@Requires("edit", ARTICLES)
async def edit(request: web.Request) -> web.Response:
    return web.Response(text="edited")


def make_app(secret: bytes) -> web.Application:
    codec = TicketCodec(secret)
    service = AuthService(
        [
            CookieTicketPolicy(codec, MAX_AGE, reissue_time=60),
            BearerTicketPolicy(codec, MAX_AGE),
        ],
        groups=groups,
        default=Authenticated(),
    )

    async def revoke(app: web.Application) -> None:
        await service.logout_everywhere(REVOKED_USER)

    app = web.Application()
    service.setup(app)
    app.on_startup.append(revoke)
    app.add_routes(
        [
            web.get("/public", public),
            web.get("/guarded", guarded),
            web.get("/edit", edit),
        ]
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True, help="hex")
    args = parser.parse_args()
    web.run_app(
        make_app(bytes.fromhex(args.secret)),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
