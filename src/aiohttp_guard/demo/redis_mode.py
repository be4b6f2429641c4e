"""The demo's Redis mode (`--redis URL`): sessions, revocations and login
sessions in Redis.

A module of its own so that the demo without `--redis` never imports redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import session_middleware
from aiohttp_session.redis_storage import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError

from aiohttp_guard import RedisRevocationStore, RedisSessionRegistry

from .pages import unavailable_page

__all__ = ["check_redis", "use_redis"]


def use_redis(
    app: web.Application, url: str
) -> tuple[RedisRevocationStore, RedisSessionRegistry]:
    """Keep `app`'s sessions in the Redis at `url`; the revocation store and
    the login sessions' registry on the same Redis, for the service."""
    redis = redis_client(url)
    app.middlewares.extend(
        [redis_unavailable, session_middleware(RedisStorage(redis, max_age=3600))]
    )

    async def close_redis(app: web.Application) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    app.cleanup_ctx.append(close_redis)
    return RedisRevocationStore(redis), RedisSessionRegistry(redis)


def redis_client(url: str) -> Redis:
    """A client that gives up after a second, so that a Redis that does not
    answer makes a 503 page, not a hung request."""
    client: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        url, socket_connect_timeout=1, socket_timeout=1
    )
    return client


async def check_redis(url: str) -> str | None:
    """Why the Redis at `url` cannot be used (one line), or None if it answers."""
    try:
        client = redis_client(url)
    except ValueError as exc:
        return f"{url} is not a Redis URL: {exc}"
    try:
        await client.ping()  # pyright: ignore[reportUnknownMemberType]
    except (RedisError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        return (
            f"Redis at {url} does not answer ({reason}): start it, or leave out --redis"
        )
    finally:
        await client.aclose()
    return None


@web.middleware
async def redis_unavailable(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """While Redis does not answer, a page that needs the session is a 503
    page (the sessions' storage raises before and after the handler)."""
    try:
        return await handler(request)
    except (RedisError, OSError):
        return web.Response(
            status=503,
            headers={"Retry-After": "5"},
            text=unavailable_page(),
            content_type="text/html",
        )
