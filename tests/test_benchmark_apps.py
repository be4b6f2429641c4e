"""The HTTP benchmark's Redis store contender, in one process: it answers as
the other guarded apps do, leaves Redis as it found it, and stops the run,
saying so, when Redis does not answer (a check of answers, never of speed)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from benchmarks import http_apps
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import AuthService, RedisRevocationStore, RedisSessionRegistry

from .conftest import REDIS_URL, free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_STORE = "aiohttp_guard cookie, Redis store"
REDIS_SESSIONS = "aiohttp_guard cookie, Redis store and sessions"


async def client_names(redis: Redis) -> set[str]:
    clients = await redis.client_list()  # pyright: ignore[reportUnknownMemberType]
    return {str(client["name"]) for client in clients}


@pytest.mark.parametrize("sessions", [False, True], ids=["store", "and sessions"])
async def test_benchmark_redis_store_app(
    aiohttp_client: AiohttpClient,
    redis_client: Redis,
    redis_prefix: str,
    sessions: bool,
) -> None:
    name = REDIS_SESSIONS if sessions else REDIS_STORE
    assert name in http_apps.CONTENDERS
    assert name in http_apps.REDIS_CONTENDERS
    app = http_apps.guard(
        "cookie",
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        redis_sessions=sessions,
    )
    client = await aiohttp_client(app)
    store = RedisRevocationStore(redis_client, prefix=redis_prefix)
    assert await store.not_before(http_apps.REVOKED_USER) > 0  # never empty
    registry = AuthService.of(app).sessions_check.registry
    assert isinstance(registry, RedisSessionRegistry) is sessions
    if sessions:  # one ended session: that store is never empty either
        assert await registry.ends.not_before("s:never-held") == 2**53 - 1
    assert f"{redis_prefix}client" in await client_names(redis_client)

    async with client.get("/login", params={"user": "alice"}) as response:
        assert response.status == 200
    async with client.get("/protected") as response:
        assert (response.status, await response.text()) == (200, "ok")
    client.session.cookie_jar.clear()
    async with client.get("/protected") as response:
        assert response.status == 401
    async with client.get("/login", params={"user": "bob"}) as response:
        assert response.status == 200
    async with client.get("/protected") as response:
        assert response.status == 403

    await client.close()  # the app's cleanup
    found = redis_client.scan_iter(match=redis_prefix + "*")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    assert [key async for key in found] == []  # pyright: ignore[reportUnknownVariableType]
    for _ in range(50):  # Redis sees the connections close a moment later
        if f"{redis_prefix}client" not in await client_names(redis_client):
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the app left its Redis client open")


async def test_benchmark_redis_store_app_needs_redis() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    runner = web.AppRunner(http_apps.guard("cookie", redis_url=url))
    with pytest.raises(RuntimeError, match=f"no Redis answers at {url}"):
        await runner.setup()  # the app's startup
    await runner.cleanup()


def test_benchmark_run_stops_without_redis() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.http", "--smoke", "--only", "Redis"],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert (
        f"{REDIS_STORE}, {REDIS_SESSIONS}: no Redis answers at {url}" in result.stderr
    )
    assert "requests/s" not in result.stdout  # nothing was measured
