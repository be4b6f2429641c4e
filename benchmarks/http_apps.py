"""The apps `benchmarks.http` serves, one per contender, all alike: `GET /login`
gives a user credentials, `GET /protected` requires the `edit` permission of a
three-entry ACL (the aiohttp_auth documentation's). Users: `alice` may edit,
`bob` may not.

    python -m benchmarks.http_apps CONTENDER --port P

The contenders of `REDIS_CONTENDERS` keep revocations in the Redis at the
`REDIS_URL` environment variable (default redis://127.0.0.1:6379/0), as the
tests and CI do, and fail to start when it does not answer.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Hashable, Iterable
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_auth import acl as old_acl
from aiohttp_auth import auth as old_auth
from aiohttp_auth.permissions import Group as OldGroup
from aiohttp_auth.permissions import Permission as OldPermission
from aiohttp_security import (
    CookiesIdentityPolicy,
    SessionIdentityPolicy,
    check_permission,
    setup,
)
from aiohttp_security import remember as security_remember
from aiohttp_security.abc import AbstractAuthorizationPolicy
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from ticket_auth import TicketFactory

from aiohttp_guard import (
    ACL,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    CrossOriginProtection,
    JWTPolicy,
    Public,
    RedisRevocationStore,
    RedisSessionRegistry,
    Requires,
    SessionTicketPolicy,
    remember,
)
from aiohttp_guard.demo.provider import Algorithm, DemoProvider
from aiohttp_guard.permissions import AuthenticatedUser, Everyone, Permission

SECRET = b"benchmark secret: thirty-two b.."
SESSION_KEY = b"benchmark session key, 32 bytes!"
GROUPS: dict[str, tuple[str, ...]] = {"alice": ("edit_group",), "bob": ()}
ENTRIES = [
    (Permission.Allow, Everyone, ("view",)),
    (Permission.Allow, AuthenticatedUser, ("view", "view_extra")),
    (Permission.Allow, "edit_group", ("view", "view_extra", "edit")),
]
CONTEXT: ACL[str] = ACL(ENTRIES)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
#: Revoked when a Redis store's app starts, so that the store is never empty;
#: never a user the benchmark logs in.
REVOKED_USER = "mallory"


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


#: The users of the many-users scenario, `editor-0` and on, may all edit.
EDITOR_PREFIX = "editor-"
EDITORS: tuple[str, ...] = ("edit_group",)


async def groups(user_id: str | None) -> Iterable[Hashable] | None:
    if user_id is not None and user_id.startswith(EDITOR_PREFIX):
        return EDITORS
    return GROUPS.get(user_id or "", ())


def bare() -> web.Application:
    app = web.Application()
    app.router.add_get("/protected", ok)
    return app


@web.middleware
async def empty_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    return await handler(request)


def with_empty_middleware() -> web.Application:
    """What any middleware costs before it does anything: aiohttp then also
    runs its own middleware that tracks the current app."""
    app = web.Application(middlewares=[empty_middleware])
    app.router.add_get("/protected", ok)
    return app


async def redis_problem(url: str) -> str | None:
    """Why the Redis at `url` cannot be used (one line), or None if it answers."""
    try:
        client: Redis = Redis.from_url(url, socket_connect_timeout=2)  # pyright: ignore[reportUnknownMemberType]
    except ValueError as exc:
        return f"{url} is not a Redis URL ({exc}): set REDIS_URL"
    try:
        await client.ping()  # pyright: ignore[reportUnknownMemberType]
    except (RedisError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        return f"no Redis answers at {url} ({reason}): start it, or set REDIS_URL"
    finally:
        await client.aclose()
    return None


def redis_revocations(
    app: web.Application, url: str, prefix: str | None = None
) -> tuple[RedisRevocationStore, RedisSessionRegistry]:
    """A revocation store and a session registry in the Redis at `url`,
    under `prefix` (default: a new one of this app's own). `app` fails to
    start when that Redis does not answer; at cleanup it deletes the
    prefix's keys and closes the client, whose connections Redis lists by
    the name `prefix` ends with ":client"."""
    prefix = prefix or f"aiohttp_guard-benchmark:{uuid.uuid4().hex}:"
    client: Redis = Redis.from_url(url, client_name=f"{prefix}client")  # pyright: ignore[reportUnknownMemberType]
    store = RedisRevocationStore(client, prefix=prefix)
    registry = RedisSessionRegistry(client, prefix=prefix + "sessions:")

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        problem = await redis_problem(url)
        if problem is not None:
            await client.aclose()
            raise RuntimeError(f"the Redis store's benchmark app: {problem}")
        yield
        try:
            # Stopped before their keys go (the service stops them again
            # later, which does no harm): a store still following Redis
            # would take its epoch's deletion for lost data and write a new
            # one, left behind.
            await store.close()
            await registry.close()
            found = cast(
                "AsyncIterator[bytes]",
                client.scan_iter(match=prefix + "*"),  # pyright: ignore[reportUnknownMemberType]
            )
            keys = [key async for key in found]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()

    # aiohttp starts the cleanup contexts at the head of on_startup: before
    # the service opens the store.
    app.cleanup_ctx.append(lifetime)
    return store, registry


def provider_tokens(algorithm: Algorithm) -> tuple[JWTPolicy, DemoProvider]:
    """A stand-in provider signing with `algorithm`, and the policy that
    verifies its tokens, given its keys (as a server has them once
    fetched)."""
    provider = DemoProvider("https://idp.benchmark", algorithms=(algorithm,))
    policy = JWTPolicy(
        issuer=provider.issuer,
        audience=provider.audience,
        keys=provider.jwk_set(),
        algorithms=(algorithm,),
    )
    return policy, provider


def guard(
    kind: str,
    *,
    csrf: bool = True,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    redis_sessions: bool = False,
) -> web.Application:
    """aiohttp_guard's app; with `redis_url`, revocations are kept in that
    Redis (under `redis_prefix`) and one user other than the benchmark's is
    revoked at startup, and with `redis_sessions` login sessions too (one
    session other than the benchmark's ended, so that no store is empty)."""
    app = web.Application()
    provider: DemoProvider | None = None  # the tokens' issuer, for JWT kinds
    if kind == "session":
        app.middlewares.append(session_middleware(EncryptedCookieStorage(SESSION_KEY)))
        policy: Any = SessionTicketPolicy(SECRET, 3600)
    elif kind == "bearer":
        policy = BearerTicketPolicy(SECRET, 3600)
    elif kind in ("RS256", "EdDSA"):
        policy, provider = provider_tokens("RS256" if kind == "RS256" else "EdDSA")
    else:
        policy = CookieTicketPolicy(SECRET, 3600)
    stores = (
        None if redis_url is None else redis_revocations(app, redis_url, redis_prefix)
    )
    revocations = None if stores is None else stores[0]
    sessions = None if stores is None or not redis_sessions else stores[1]
    service = AuthService(
        policy,
        groups=groups,
        revocations=revocations,
        sessions=sessions,
        csrf=CrossOriginProtection() if csrf else None,
    )
    service.setup(app)
    if revocations is not None:

        async def revoke(app: web.Application) -> None:
            await service.logout_everywhere(REVOKED_USER)
            if sessions is not None:  # a session nobody holds, ended
                await sessions.ends.revoke("s:never-held", 2**53 - 1, 3600)

        app.on_startup.append(revoke)

    @Public()
    async def login(request: web.Request) -> web.Response:
        user = request.query["user"]
        if provider is not None:  # the provider hands tokens out
            (key,) = provider.keys.values()
            return web.Response(text=provider.token(user, key=key, lifetime=3600))
        token = await remember(request, user)
        return web.Response(text=token or "")

    protected = Requires("edit", CONTEXT)(ok)
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/protected", protected),
            web.post("/protected", protected),
        ]
    )
    return app


def security(kind: str) -> web.Application:
    class Autz(AbstractAuthorizationPolicy):
        """The same ACL, checked the way aiohttp-security leaves to users."""

        async def authorized_userid(self, identity: str) -> str | None:
            return identity if identity in GROUPS else None

        async def permits(
            self, identity: str | None, permission: str | Any, context: Any = None
        ) -> bool:
            principals: set[Hashable] = {Everyone}
            if identity in GROUPS:
                principals |= {AuthenticatedUser, identity, *GROUPS[identity]}
            for action, principal, permissions in ENTRIES:
                if principal in principals and permission in permissions:
                    return action is Permission.Allow
            return False

    app = web.Application()
    if kind == "session":
        app.middlewares.append(session_middleware(EncryptedCookieStorage(SESSION_KEY)))
        identity: Any = SessionIdentityPolicy()
    else:
        identity = CookiesIdentityPolicy()
    setup(app, identity, Autz())

    async def login(request: web.Request) -> web.Response:
        response = web.Response(text="")
        await security_remember(request, response, request.query["user"])
        return response

    async def protected(request: web.Request) -> web.Response:
        await check_permission(request, "edit")
        return web.Response(text="ok")

    app.add_routes([web.get("/login", login), web.get("/protected", protected)])
    return app


def aiohttp_auth() -> web.Application:
    """aiohttp_auth 0.1.1 as far as it runs: its `acl_required` always fails
    and its `remember` fails on aiohttp 2+, so the check is written out with
    `auth_required` and `get_permitted`, and tickets are made by its factory."""
    old_context = [
        (OldPermission.Allow, OldGroup.Everyone, ("view",)),
        (OldPermission.Allow, OldGroup.AuthenticatedUser, ("view", "view_extra")),
        (OldPermission.Allow, "edit_group", ("view", "view_extra", "edit")),
    ]

    async def callback(user_id: str | None) -> tuple[str, ...]:
        return GROUPS.get(user_id or "", ())

    @old_auth.auth_required
    async def protected(request: web.Request) -> web.Response:
        if not await old_acl.get_permitted(request, "edit", old_context):
            raise web.HTTPForbidden()
        return web.Response(text="ok")

    async def login(request: web.Request) -> web.Response:
        ticket = TicketFactory(SECRET).new(
            request.query["user"], valid_until=time.time() + 3600
        )
        return web.Response(text=ticket)

    policy = old_auth.CookieTktAuthentication(SECRET, 3600)
    middlewares = [old_auth.auth_middleware(policy), old_acl.acl_middleware(callback)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = web.Application(middlewares=middlewares)
    app.add_routes([web.get("/login", login), web.get("/protected", protected)])
    return app


CONTENDERS = {
    "bare aiohttp": bare,
    "bare aiohttp, sent a ticket cookie it ignores": bare,
    "aiohttp + an empty middleware": with_empty_middleware,
    "aiohttp_guard cookie": lambda: guard("cookie"),
    "aiohttp_guard cookie, csrf off": lambda: guard("cookie", csrf=False),
    "aiohttp_guard cookie, Redis store": lambda: guard("cookie", redis_url=REDIS_URL),
    "aiohttp_guard cookie, Redis store and sessions": lambda: guard(
        "cookie", redis_url=REDIS_URL, redis_sessions=True
    ),
    "aiohttp_guard session (EncryptedCookieStorage)": lambda: guard("session"),
    "aiohttp_guard bearer": lambda: guard("bearer"),
    "aiohttp_guard JWT RS256 bearer": lambda: guard("RS256"),
    "aiohttp_guard JWT EdDSA bearer": lambda: guard("EdDSA"),
    "aiohttp-security cookie (unsigned)": lambda: security("cookie"),
    "aiohttp-security session (EncryptedCookieStorage)": lambda: security("session"),
    "aiohttp_auth 0.1.1 cookie": aiohttp_auth,
}


#: The contenders also loaded with a same-origin POST: cross-origin
#: protection on (the default) and off.
UNSAFE_METHOD_CONTENDERS = ("aiohttp_guard cookie", "aiohttp_guard cookie, csrf off")
#: The contenders that need the Redis at REDIS_URL.
REDIS_CONTENDERS = (
    "aiohttp_guard cookie, Redis store",
    "aiohttp_guard cookie, Redis store and sessions",
)


#: Set (to anything) in the environment, each server calls `gc.freeze()`
#: once started: what the many-users advice of docs/howto/several-instances.md
#: suggests (`benchmarks.http --freeze-gc`).
FREEZE_GC = "BENCHMARK_FREEZE_GC"


async def freeze_gc(app: web.Application) -> None:
    """Leave what startup made out of every later garbage collection."""
    gc.collect()
    gc.freeze()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    # aiohttp_session logs each undecryptable cookie; the tampered runs would
    # measure the terminal, for both session contenders alike.
    logging.getLogger("aiohttp_session").setLevel(logging.ERROR)
    app = CONTENDERS[args.contender]()
    if os.environ.get(FREEZE_GC):
        app.on_startup.append(freeze_gc)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
