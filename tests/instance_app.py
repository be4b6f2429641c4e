"""One instance of an app, run in a process of its own by the several-instances
test: `python -m tests.instance_app --port P --secret HEX [--secret HEX] ...`.

Instances share nothing but their key ring and Redis."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    RedisRevocationStore,
    RedisSessionRegistry,
    TicketCodec,
    get_auth,
    remember,
)


def make_app(
    secrets: list[bytes], upcoming: list[bytes], redis_url: str, prefix: str
) -> web.Application:
    redis: Redis = Redis.from_url(redis_url)  # pyright: ignore[reportUnknownMemberType]
    service = AuthService(
        CookieTicketPolicy(TicketCodec(secrets, upcoming=upcoming), max_age=600),
        revocations=RedisRevocationStore(redis, prefix=prefix),
        sessions=RedisSessionRegistry(redis, prefix=prefix + "sessions:"),
    )
    registry = service.sessions_check.registry
    assert isinstance(registry, RedisSessionRegistry)

    async def login(request: web.Request) -> web.Response:
        await remember(request, request.query["user"])
        return web.Response(text="ok")

    async def whoami(request: web.Request) -> web.Response:
        return web.Response(text=str(await get_auth(request)))

    async def everywhere(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await service.logout_everywhere(user_id, request)
        return web.Response(text="done")

    async def store(request: web.Request) -> web.Response:
        """Whether revocations and ended sessions are looked up in memory
        right now."""
        revocations = service.revocations
        assert isinstance(revocations, RedisRevocationStore)
        both = revocations.mirrored and registry.mirrored
        return web.Response(text="mirrored" if both else "asking")

    async def end(request: web.Request) -> web.Response:
        """Ends one login session of the request's user."""
        user_id = await Authenticated()(request)
        ended = await service.end_session(user_id, request.query["id"], request)
        return web.Response(text=str(ended))

    async def sessions(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        return web.json_response([s.id for s in await service.sessions(user_id)])

    async def close_redis(app: web.Application) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    app = web.Application()
    service.setup(app)
    app.cleanup_ctx.append(close_redis)
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/whoami", whoami),
            web.post("/everywhere", everywhere),
            web.get("/store", store),
            web.post("/end", end),
            web.get("/sessions", sessions),
        ]
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", action="append", required=True)
    parser.add_argument("--upcoming", action="append", default=[])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args()
    secrets = [bytes.fromhex(secret) for secret in args.secret]
    upcoming = [bytes.fromhex(secret) for secret in args.upcoming]
    app = make_app(secrets, upcoming, args.redis, args.prefix)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
