"""Shared test material: secrets and small app builders over real servers."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from aiohttp_guard.demo.provider import DemoProvider

SECRET = b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210fedcba9876543210"


class Clock:
    """A settable clock for the codec, so expiry boundaries are exact."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- Redis -------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def missing_service(reason: str) -> NoReturn:
    """Skip on a developer's machine; under CI a missing service is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run this test", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    """A client of the Redis at REDIS_URL; its keys are the test's to use under
    the `redis_prefix`."""
    client: Redis = Redis.from_url(REDIS_URL)  # pyright: ignore[reportUnknownMemberType]
    try:
        async with asyncio.timeout(2):
            await client.ping()  # pyright: ignore[reportUnknownMemberType]
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        missing_service(f"no Redis server answers at {REDIS_URL} ({exc!r})")
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own, cleaned up afterwards."""
    prefix = f"aiohttp_guard-test:{uuid.uuid4().hex}:"
    yield prefix
    found = cast(
        "AsyncIterator[bytes]",
        redis_client.scan_iter(match=prefix + "*"),  # pyright: ignore[reportUnknownMemberType]
    )
    keys = [key async for key in found]
    if keys:
        await redis_client.delete(*keys)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A redis-server process of the test's own, which the test may stop and
    start again on the same port."""

    def __init__(self, binary: str, port: int, workdir: Path) -> None:
        self.binary, self.port, self.workdir = binary, port, workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        missing_service("redis-server is not installed")
    server = RedisServer(binary, free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def connect(url: str, *, retry: bool = True, decode_responses: bool = False) -> Redis:
    """A client as the docs advise: it retries a command once on a fresh
    connection, so a restarted Redis costs no 503 on a stale one."""
    client: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        url,
        socket_connect_timeout=0.5,
        decode_responses=decode_responses,
        retry=Retry(NoBackoff(), 1 if retry else 0),
        retry_on_error=[RedisConnectionError] if retry else [],
    )
    return client


@pytest.fixture
async def own_redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client of the test's own redis-server (default prefix: it is ours)."""
    client = connect(redis_server.url)
    yield client
    await client.aclose()


# -- an identity provider ----------------------------------------------------


@pytest.fixture
async def provider() -> AsyncIterator[DemoProvider]:
    """An identity provider served on loopback by a real server: discovery,
    a JWK set of RSA, EC and Ed25519 keys, and tokens it signs."""
    provider = DemoProvider()
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = str(server.make_url("")).rstrip("/")
    yield provider
    await server.close()


@pytest.fixture
def provider_in_a_thread() -> Iterator[DemoProvider]:
    """The identity provider on an event loop of its own, in a thread: for
    tests that run several event loops one after the other."""
    provider = DemoProvider()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(provider.app())

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        provider.issuer = f"http://{host}:{port}"
        ready.set()

    def serve() -> None:
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield provider
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
