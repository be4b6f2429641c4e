"""Two server processes of one app, sharing only the key ring and Redis."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from aiohttp_guard import TicketCodec

from .conftest import REDIS_URL, RedisServer, connect, free_port

ROOT = Path(__file__).resolve().parent.parent
#: RedisRevocationStore's default bound on how late another instance
#: enforces a revocation.
MAX_LAG = 0.1
OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(32, 64))


class Instance:
    """One app process on a loopback port of its own."""

    def __init__(self, prefix: str, redis_url: str = REDIS_URL) -> None:
        self.prefix, self.redis_url = prefix, redis_url
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
        command += ["--redis", self.redis_url, "--prefix", self.prefix]
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
        await asyncio.sleep(MAX_LAG)  # the bound on reaching another instance
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


async def mirrored(session: aiohttp.ClientSession, *some: Instance) -> None:
    """Returns once every instance looks revocations up in memory."""
    deadline = time.monotonic() + 10
    for instance in some:
        while True:
            async with session.get(instance.url("/store")) as response:
                if await response.text() == "mirrored":
                    break
            assert time.monotonic() < deadline, "an instance never mirrored Redis"
            await asyncio.sleep(0.01)


async def logged_in(
    session: aiohttp.ClientSession, instance: Instance, user: str
) -> str:
    """Logs `user` in; returns the ticket, to present by hand later."""
    async with session.get(instance.url("/login"), params={"user": user}) as response:
        assert response.status == 200
        return response.cookies["AUTH_TKT"].value


async def who(
    session: aiohttp.ClientSession, instance: Instance, ticket: str
) -> tuple[int, str]:
    """What `instance` makes of `ticket`: status and user."""
    headers = {"Cookie": f"AUTH_TKT={ticket}"}
    async with session.get(instance.url("/whoami"), headers=headers) as response:
        return response.status, await response.text()


async def everywhere(
    session: aiohttp.ClientSession, instance: Instance, ticket: str
) -> None:
    """Logs the ticket's user out everywhere, through `instance`."""
    headers = {"Cookie": f"AUTH_TKT={ticket}"}
    async with session.post(instance.url("/everywhere"), headers=headers) as response:
        assert response.status == 200


async def refused_within(
    session: aiohttp.ClientSession, instance: Instance, ticket: str, bound: float
) -> None:
    """Every request sent more than `bound` seconds from now is refused. By
    the time it was sent, not answered: on a loaded machine an answer given
    in time may arrive late."""
    started = time.monotonic()
    while True:
        sent = time.monotonic()
        answer = await who(session, instance, ticket)
        if answer == (200, "None"):
            return
        assert answer[0] == 200, answer
        assert sent - started <= bound, "the revoked ticket still holds"
        await asyncio.sleep(0.002)


async def test_a_revocation_reaches_the_other_process_within_100_ms(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    await asyncio.gather(a.start(OLD_KEY), b.start(OLD_KEY))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
        await mirrored(client, a, b)
        laptop = await logged_in(client, a, "alice")
        phone = await logged_in(client, a, "alice")
        assert await who(client, b, laptop) == (200, "alice")
        await everywhere(client, a, phone)
        await refused_within(client, b, laptop, MAX_LAG)
        await mirrored(client, b)  # from its copy, not by falling back


async def test_a_session_ended_on_one_process_is_refused_by_the_other_in_100_ms(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    await asyncio.gather(a.start(OLD_KEY), b.start(OLD_KEY))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
        await mirrored(client, a, b)
        phone, laptop, tablet = [await logged_in(client, a, "alice") for _ in "plt"]
        assert [await who(client, b, t) for t in (phone, laptop, tablet)] == [
            (200, "alice")
        ] * 3
        phone_id = TicketCodec(OLD_KEY).decode(phone).session_id
        headers = {"Cookie": f"AUTH_TKT={laptop}"}
        async with client.post(
            a.url("/end"), params={"id": str(phone_id)}, headers=headers
        ) as response:
            assert await response.text() == "True"
        await refused_within(client, b, phone, MAX_LAG)
        assert await who(client, b, laptop) == (200, "alice")
        assert await who(client, b, tablet) == (200, "alice")
        await mirrored(client, b)  # from its copy, not by falling back
        async with client.get(b.url("/sessions"), headers=headers) as response:
            listed = await response.json()
        assert phone_id not in listed
        assert len(listed) == 2


async def test_a_killed_subscription_and_a_restarted_redis_across_processes(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    """Two processes on a redis-server of the test's own: a revoked ticket is
    presented all along, while the subscriptions are killed and while Redis
    restarts empty. It is never accepted after the revocation has had 100 ms,
    and nothing answers 500."""
    own = connect(redis_server.url)
    a, b = (
        Instance(redis_prefix, redis_server.url),
        Instance(redis_prefix, redis_server.url),
    )
    seen: list[tuple[float, int, str]] = []
    stop = asyncio.Event()

    async def present(client: aiohttp.ClientSession, ticket: str) -> None:
        while not stop.is_set():
            sent = time.monotonic()  # when it was sent, not when answered
            status, text = await who(client, b, ticket)
            seen.append((sent, status, text))
            await asyncio.sleep(0.002)

    try:
        await asyncio.gather(a.start(OLD_KEY), b.start(OLD_KEY))
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            await mirrored(client, a, b)
            laptop = await logged_in(client, b, "alice")
            phone = await logged_in(client, a, "alice")
            task = asyncio.create_task(present(client, laptop))
            try:
                await asyncio.sleep(0.05)
                await own.client_kill_filter(_type="pubsub")  # pyright: ignore[reportUnknownMemberType]
                await everywhere(client, a, phone)
                revoked_at = time.monotonic()
                await asyncio.sleep(0.3)
                await mirrored(client, a, b)
                redis_server.stop()  # no persistence: it comes back empty
                await asyncio.sleep(0.2)
                redis_server.start()
                await asyncio.sleep(0.5)
            finally:
                stop.set()
                await task
            assert {status for _, status, _ in seen} <= {200, 503}  # never a 500
            late = [
                at - revoked_at
                for at, _, text in seen
                if text == "alice" and at > revoked_at + MAX_LAG
            ]
            assert not late
            assert any(status == 503 for _, status, _ in seen)  # Redis was down

            # Back on a new epoch: logins hold, and revocations travel again.
            await mirrored(client, a, b)
            bob = await logged_in(client, a, "bob")
            assert await who(client, b, bob) == (200, "bob")
            await everywhere(client, a, bob)
            await refused_within(client, b, bob, MAX_LAG)
    finally:
        await a.stop()
        await b.stop()
        await own.aclose()
