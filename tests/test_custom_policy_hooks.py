"""What a policy of one's own tells the service, through real servers: how
long its credentials live (how long revocations are kept), and what makes
them valid (which nested services share revocations)."""

from __future__ import annotations

import time
from collections.abc import Hashable

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    AbstractAuthentication,
    AuthService,
    Identity,
    RedisRevocationStore,
    get_auth,
)


class DatedHeaderPolicy(AbstractAuthentication):
    """Trusts `X-User`, issued at `X-Issued` (ms): credentials issued
    elsewhere, valid for `age` seconds, made valid by `realm`'s keys."""

    def __init__(self, realm: str, age: float | None) -> None:
        self.realm = realm
        self.age = age

    @property
    def max_ticket_age(self) -> float | None:
        return self.age

    def credential_ids(self) -> frozenset[Hashable]:
        return frozenset((self.realm,))

    async def remember(self, request: web.Request, user_id: str) -> None:
        raise web.HTTPNotImplemented()

    async def forget(self, request: web.Request) -> None:
        return None

    async def get(self, request: web.Request) -> str | None:
        identity = await self.identify(request)
        return None if identity is None else identity.user_id

    async def identify(self, request: web.Request) -> Identity | None:
        user = request.headers.get("X-User")
        issued = request.headers.get("X-Issued", "")
        if user is None or not issued.isdigit():
            return None
        return Identity(user, issued_ms=int(issued), login_ms=int(issued))


async def whoami(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


async def everywhere(request: web.Request) -> web.Response:
    await AuthService.of(request).logout_everywhere(request.query["user"])
    return web.Response(text="done")


def app_for(policy: AbstractAuthentication, **options: object) -> web.Application:
    app = web.Application()
    AuthService(policy, **options).setup(app)  # type: ignore[arg-type]
    app.router.add_get("/whoami", whoami)
    app.router.add_get("/everywhere", everywhere)
    return app


@pytest.mark.parametrize(("age", "kept"), [(600.0, 660.0), (None, None)])
async def test_revocations_are_kept_as_long_as_the_policy_says(
    aiohttp_client: AiohttpClient,
    redis_client: Redis,
    redis_prefix: str,
    age: float | None,
    kept: float | None,
) -> None:
    store = RedisRevocationStore(redis_client, prefix=redis_prefix)
    app = app_for(DatedHeaderPolicy("keys", age), revocations=store)
    client = await aiohttp_client(app)
    assert (await client.get("/everywhere", params={"user": "alice"})).status == 200
    ttl_ms = await redis_client.pttl(f"{redis_prefix}alice")
    if kept is None:
        assert ttl_ms == -1  # kept for good
    else:
        assert kept * 1000 - 5000 < ttl_ms <= kept * 1000


@pytest.mark.parametrize(("sub_realm", "refused"), [("keys", True), ("other", False)])
async def test_nested_services_sharing_a_credential_share_revocations(
    aiohttp_client: AiohttpClient, sub_realm: str, refused: bool
) -> None:
    root = app_for(DatedHeaderPolicy("keys", 600))
    sub = app_for(DatedHeaderPolicy(sub_realm, 600))
    root.add_subapp("/sub", sub)
    client = await aiohttp_client(root)
    issued = {"X-User": "alice", "X-Issued": str(int(time.time() * 1000) - 1000)}
    assert await (await client.get("/sub/whoami", headers=issued)).text() == "alice"

    assert (await client.get("/everywhere", params={"user": "alice"})).status == 200
    assert await (await client.get("/whoami", headers=issued)).text() == "None"
    seen = await (await client.get("/sub/whoami", headers=issued)).text()
    assert seen == ("None" if refused else "alice")
