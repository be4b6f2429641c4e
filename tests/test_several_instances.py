"""Two server processes of one app, sharing only the key ring and Redis."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from aiohttp_guard import TicketCodec

from .conftest import REDIS_URL, free_port

ROOT = Path(__file__).resolve().parent.parent
OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(32, 64))


class Instance:
    """One app process on a loopback port of its own."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self, *secrets: bytes, upcoming: bytes | None = None) -> None:
        await self.stop()
        command = [sys.executable, "-m", "tests.instance_app", "--port", str(self.port)]
        for secret in secrets:
            command += ["--secret", secret.hex()]
        if upcoming is not None:
            command += ["--upcoming", upcoming.hex()]
        command += ["--redis", REDIS_URL, "--prefix", self.prefix]
        self.process = subprocess.Popen(command, cwd=ROOT)  # noqa: S603, ASYNC220 - returns at once
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError(f"instance exited with {self.process.returncode}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError("instance did not start")

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 10)
            self.process = None


@pytest.fixture
async def instances(
    redis_client: Redis, redis_prefix: str
) -> AsyncIterator[tuple[Instance, Instance]]:
    first, second = Instance(redis_prefix), Instance(redis_prefix)
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()


async def whoami(session: aiohttp.ClientSession, instance: Instance) -> str:
    async with session.get(instance.url("/whoami")) as response:
        return await response.text()


async def test_logins_and_logouts_hold_across_instances(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    await asyncio.gather(a.start(OLD_KEY), b.start(OLD_KEY))
    # Cookies are per host, not per port: like a browser behind a balancer.
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as laptop,
    ):
        for device in (phone, laptop):
            await device.get(a.url("/login"), params={"user": "alice"})
        assert await whoami(phone, b) == "alice"

        async with phone.post(a.url("/everywhere")) as response:
            assert response.status == 200
        assert await whoami(laptop, b) == "None"  # honoured by the other instance
        assert await whoami(laptop, a) == "None"
        await laptop.get(b.url("/login"), params={"user": "alice"})
        assert await whoami(laptop, a) == "alice"


async def test_key_rotation_across_instances(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    await asyncio.gather(a.start(OLD_KEY), b.start(OLD_KEY))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as old:
        await old.get(a.url("/login"), params={"user": "alice"})

        # Step 1: every instance learns the new key, for verifying only.
        await a.start(OLD_KEY, upcoming=NEW_KEY)
        await b.start(OLD_KEY, upcoming=NEW_KEY)
        assert await whoami(old, a) == "alice"
        assert await whoami(old, b) == "alice"

        # Step 2: one instance after the other signs with the new key.
        await a.start(NEW_KEY, OLD_KEY)
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as new:
            await new.get(a.url("/login"), params={"user": "carol"})
            async with new.get(b.url("/whoami")) as response:  # b still signs with OLD
                assert await response.text() == "carol"
                assert "AUTH_TKT" not in response.cookies  # and does not re-sign
            async with old.get(a.url("/whoami")) as response:
                assert await response.text() == "alice"
                renewed = response.cookies["AUTH_TKT"].value  # re-signed
            assert TicketCodec(NEW_KEY).decode(renewed).user_id == "alice"
            await b.start(NEW_KEY, OLD_KEY)

            # Step 3: the old key can go once no ticket signed with it is wanted
            # (after max_age at the latest).
            await a.start(NEW_KEY)
            await b.start(NEW_KEY)
            assert await whoami(old, b) == "alice"
            assert await whoami(new, a) == "carol"
