"""LoginThrottle through a real server: exact limits per account and per
address, answers that tell nothing about which accounts exist, problem+json
for API clients, counts shared through Redis, and a Redis outage answered
503 (or let through with `fail_open`) and recovered from, never a 500."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import cast

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler
from hypothesis import given
from hypothesis import strategies as st
from limits.aio.storage import MemoryStorage
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    AuthService,
    CookieTicketPolicy,
    DefaultErrorHandler,
    LoginThrottle,
    remember,
)
from aiohttp_guard.login_throttle import account_name, address_bucket

from .conftest import REDIS_URL, SECRET, RedisServer

AUDIT = "aiohttp_guard.audit"
PASSWORDS = {"alice": "right"}
JSON = {"Accept": "application/json"}

Client = TestClient[web.Request, web.Application]


@web.middleware
async def remote_from_header(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """The client address the test names in X-Remote, as aiohttp-remotes
    would restore it behind a proxy."""
    remote = request.headers.get("X-Remote")
    if remote is not None:
        request = request.clone(remote=remote)
    return await handler(request)


def login_app(throttle: LoginThrottle, *, service: bool = True) -> web.Application:
    """An app whose POST /login checks the form's password under `throttle`."""

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        name, password = str(form["username"]), str(form["password"])
        await throttle.check(request, name)
        if PASSWORDS.get(name) != password:
            await throttle.failed(request, name)
            return web.Response(status=401, text="Unknown user or wrong password.")
        await throttle.succeeded(request, name)
        if service:
            await remember(request, name)
        return web.Response(text="welcome")

    app = web.Application(middlewares=[remote_from_header])
    if service:
        AuthService(CookieTicketPolicy(SECRET, 3600)).setup(app)
    throttle.setup(app)
    app.router.add_post("/login", login)
    return app


async def attempt(
    client: Client,
    name: str,
    password: str = "wrong",  # noqa: S107 - the test's own
    *,
    remote: str | None = None,
    headers: dict[str, str] | None = None,
) -> ClientResponse:
    sent = dict(headers or {})
    if remote is not None:
        sent["X-Remote"] = remote
    response = await client.post(
        "/login", data={"username": name, "password": password}, headers=sent
    )
    await response.read()
    return response


def is_down(throttle: LoginThrottle) -> bool:
    return throttle.down


def retry_after(response: ClientResponse) -> int:
    return int(response.headers["Retry-After"])


async def test_the_limit_is_exact_and_the_window_passing_lets_one_through(
    aiohttp_client: AiohttpClient,
) -> None:
    throttle = LoginThrottle(per_account="2/second", per_address=None)
    client = await aiohttp_client(login_app(throttle))
    assert [(await attempt(client, "alice")).status for _ in range(2)] == [401, 401]
    refused = await attempt(client, "alice", "right")  # even the right password
    assert refused.status == 429
    assert retry_after(refused) == 1
    await asyncio.sleep(1.05)
    assert (await attempt(client, "alice")).status == 401
    assert (await attempt(client, "alice")).status == 401
    assert (await attempt(client, "alice")).status == 429


async def test_five_failures_a_minute_and_the_sixth_is_refused_with_retry_after(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(login_app(LoginThrottle()))
    statuses = [(await attempt(client, "alice")).status for _ in range(5)]
    assert statuses == [401] * 5
    refused = await attempt(client, "alice")
    assert refused.status == 429
    assert 55 <= retry_after(refused) <= 60
    assert await refused.text() == (
        f"Too many failed logins; try again in {retry_after(refused)} seconds."
    )
    # Another account from the same address is not throttled by alice's.
    assert (await attempt(client, "bob")).status == 401


async def test_a_success_clears_the_account_not_the_address(
    aiohttp_client: AiohttpClient,
) -> None:
    throttle = LoginThrottle(per_account="2/minute", per_address="4/minute")
    client = await aiohttp_client(login_app(throttle))
    assert (await attempt(client, "alice")).status == 401
    assert (await attempt(client, "alice", "right")).status == 200
    assert (await attempt(client, "alice")).status == 401
    assert (await attempt(client, "alice")).status == 401  # two since the success
    assert (await attempt(client, "alice")).status == 429
    # Four attempts counted for the address, the successful one too.
    refused = await attempt(client, "carol")
    assert refused.status == 429
    assert (await attempt(client, "carol", remote="10.0.0.9")).status == 401


def answer(response: ClientResponse, body: bytes) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k != "Date"}
    return response.status, headers, body


@pytest.mark.parametrize("headers", [{}, JSON], ids=["text", "json"])
async def test_unknown_and_known_accounts_are_answered_identically(
    aiohttp_client: AiohttpClient, headers: dict[str, str]
) -> None:
    client = await aiohttp_client(login_app(LoginThrottle(per_address=None)))
    statuses: list[int] = []
    for _ in range(6):
        known = await attempt(client, "alice", headers=headers)
        unknown = await attempt(client, "nobody", headers=headers)
        assert answer(known, await known.read()) == answer(
            unknown, await unknown.read()
        )
        statuses.append(known.status)
    assert statuses == [401] * 5 + [429]


async def test_the_address_limit_holds_across_account_names(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(login_app(LoginThrottle(per_address="5/minute")))
    for index in range(5):
        assert (await attempt(client, f"user{index}")).status == 401
    refused = await attempt(client, "alice", "right")
    assert refused.status == 429
    assert 55 <= retry_after(refused) <= 60
    # Another address, and another IPv6 /64, have counts of their own.
    assert (await attempt(client, "alice", "right", remote="192.0.2.7")).status == 200
    for index in range(5):
        response = await attempt(client, f"u{index}", remote=f"2001:db8:1:2::{index}")
        assert response.status == 401
    # The same /64 is one subscriber, whatever its last 64 bits.
    assert (await attempt(client, "v", remote="2001:db8:1:2:ffff::1")).status == 429
    assert (await attempt(client, "v", remote="2001:db8:1:3::1")).status == 401


async def test_a_failure_checked_first_is_counted_once_per_address(
    aiohttp_client: AiohttpClient,
) -> None:
    throttle = LoginThrottle(per_account=None, per_address="3/minute")
    client = await aiohttp_client(login_app(throttle))
    statuses = [(await attempt(client, f"user{i}")).status for i in range(4)]
    assert statuses == [401, 401, 401, 429]


async def test_names_that_differ_by_case_or_width_share_a_count(
    aiohttp_client: AiohttpClient,
) -> None:
    throttle = LoginThrottle(per_account="3/minute", per_address=None)
    client = await aiohttp_client(login_app(throttle))
    for name in ("Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"):
        assert (await attempt(client, name)).status == 401
    assert (await attempt(client, "alice", "right")).status == 429


@given(st.text())
def test_account_names_normalise_once_for_good(name: str) -> None:
    assert account_name(account_name(name)) == account_name(name)


@given(st.from_regex(r"[A-Za-z0-9]{1,20}", fullmatch=True))
def test_case_and_fullwidth_forms_of_a_name_are_one_name(name: str) -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in name)
    assert account_name(name.upper()) == account_name(name.lower())
    assert account_name(fullwidth) == account_name(name)


def test_addresses_are_counted_by_ipv4_address_and_ipv6_network() -> None:
    assert address_bucket("192.0.2.1") == "192.0.2.1"
    assert address_bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_bucket("2001:db8::1") == address_bucket("2001:db8::ffff:1")
    assert address_bucket("fe80::1%eth0") == "fe80::"
    assert address_bucket(None) == address_bucket("not an address") == "unknown"


async def test_odd_names_never_break_the_login(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(login_app(LoginThrottle()))
    for name in ("", "x" * 100_000, "\x00", "a/b/c", "\u0130\u0131\ufb03"):
        assert (await attempt(client, name)).status == 401


async def test_a_name_no_client_could_encode_is_counted(
    aiohttp_client: AiohttpClient,
) -> None:
    """A lone surrogate (an application's own decoding may make one)."""
    throttle = LoginThrottle(per_account="1/minute", per_address=None)

    async def login(request: web.Request) -> web.Response:
        await throttle.check(request, "\ud800")
        await throttle.failed(request, "\ud800")
        return web.Response(status=401)

    app = web.Application()
    app.router.add_post("/login", login)
    client = await aiohttp_client(app)
    assert (await client.post("/login")).status == 401
    assert (await client.post("/login")).status == 429


async def test_json_clients_get_problem_json(aiohttp_client: AiohttpClient) -> None:
    throttle = LoginThrottle(per_account="1/minute", per_address=None)
    client = await aiohttp_client(login_app(throttle))
    await attempt(client, "alice")
    refused = await attempt(client, "alice", headers=JSON)
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    body = json.loads(await refused.text())
    assert body["status"] == 429
    assert body["title"] == "Too Many Requests"
    assert str(retry_after(refused)) in body["detail"]


async def test_the_services_error_handler_answers(
    aiohttp_client: AiohttpClient,
) -> None:
    class Pages(DefaultErrorHandler):
        def too_many_requests(
            self, request: web.Request, retry_after: int
        ) -> web.HTTPException:
            return web.HTTPTooManyRequests(
                headers={"Retry-After": str(retry_after)},
                text=f"<p>wait {retry_after}s</p>",
                content_type="text/html",
            )

    throttle = LoginThrottle(per_account="1/minute", per_address=None)
    app = login_app(throttle, service=False)
    AuthService(CookieTicketPolicy(SECRET, 3600), error_handler=Pages()).setup(app)
    client = await aiohttp_client(app)
    await attempt(client, "alice")
    refused = await attempt(client, "alice")
    assert refused.status == 429
    assert refused.content_type == "text/html"
    assert await refused.text() == f"<p>wait {retry_after(refused)}s</p>"


async def test_an_error_handler_written_before_429s_gets_the_default(
    aiohttp_client: AiohttpClient,
) -> None:
    class Older:
        """An error handler of the three answers it used to take."""

        def unauthenticated(
            self, request: web.Request, challenge: str | None
        ) -> web.HTTPException:
            return web.HTTPUnauthorized()

        def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
            return web.HTTPForbidden()

        def unavailable(self, request: web.Request) -> web.HTTPException:
            return web.HTTPServiceUnavailable()

    throttle = LoginThrottle(per_account="1/minute", per_address=None)
    app = login_app(throttle, service=False)
    handler = cast("DefaultErrorHandler", Older())
    AuthService(CookieTicketPolicy(SECRET, 3600), error_handler=handler).setup(app)
    client = await aiohttp_client(app)
    await attempt(client, "alice")
    refused = await attempt(client, "alice")
    assert refused.status == 429
    assert 1 <= retry_after(refused) <= 60


async def test_without_a_service_it_is_aiohttps_429(
    aiohttp_client: AiohttpClient,
) -> None:
    throttle = LoginThrottle(per_account="1/minute", per_address=None)
    client = await aiohttp_client(login_app(throttle, service=False))
    await attempt(client, "alice")
    refused = await attempt(client, "alice")
    assert refused.status == 429
    assert 1 <= retry_after(refused) <= 60


class AuditRecords:
    """The audit records of the test's call, from INFO up."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __iter__(self) -> Iterator[logging.LogRecord]:
        return (r for r in self._caplog.records if r.name.startswith(AUDIT))


@pytest.fixture
def audit_records(caplog: pytest.LogCaptureFixture) -> Iterator[AuditRecords]:
    with caplog.at_level(logging.INFO, logger=AUDIT):
        yield AuditRecords(caplog)


async def test_refusals_are_audited_without_the_name(
    aiohttp_client: AiohttpClient, audit_records: AuditRecords
) -> None:
    throttle = LoginThrottle(per_account="1/minute", per_address=None)
    client = await aiohttp_client(login_app(throttle))
    await attempt(client, "alice-secret")
    await attempt(client, "alice-secret")
    (record,) = [r for r in audit_records if r.name == f"{AUDIT}.throttle"]
    assert record.levelno == logging.INFO
    assert record.__dict__["status"] == 429
    assert record.__dict__["limit"] == "account"
    assert record.__dict__["route"] == "/login"
    # Refused by the throttle, logged by it alone: not a second time as a
    # guard's refusal.
    assert not [r for r in audit_records if r.name == f"{AUDIT}.refusal"]
    assert not [r for r in audit_records if "alice-secret" in r.getMessage()]
    assert not [r for r in audit_records if "alice-secret" in str(r.__dict__)]


async def test_a_storage_object_of_your_own(aiohttp_client: AiohttpClient) -> None:
    storage = MemoryStorage()
    throttle = LoginThrottle(per_account=None, per_address="1/minute", storage=storage)
    assert repr(throttle) == (
        "LoginThrottle(per_account=None, per_address='1 per 1 minute', "
        "storage='MemoryStorage')"
    )
    client = await aiohttp_client(login_app(throttle))
    assert (await attempt(client, "alice", "right")).status == 200
    assert (await attempt(client, "alice", "right")).status == 429
    await throttle.close()  # yours to close: left as it is
    assert (await attempt(client, "bob", remote="192.0.2.1")).status == 401


def test_limits_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="couldn't parse"):
        LoginThrottle(per_account="five a minute")
    assert repr(LoginThrottle(per_address=None)) == (
        "LoginThrottle(per_account='5 per 1 minute', per_address=None, "
        "storage='memory://')"
    )


# -- Redis ---------------------------------------------------------------------


@pytest.fixture
async def namespace(redis_client: Redis) -> AsyncIterator[str]:
    """A namespace of this test's own on the shared Redis, cleaned up."""
    name = f"aiohttp_guard-test:{uuid.uuid4().hex}:login"
    yield name
    found = cast(
        "AsyncIterator[bytes]",
        redis_client.scan_iter(match=f"LIMITS:{name}*"),  # pyright: ignore[reportUnknownMemberType]
    )
    keys = [key async for key in found]
    if keys:
        await redis_client.delete(*keys)


async def test_two_instances_share_one_count_in_redis(
    aiohttp_client: AiohttpClient, namespace: str
) -> None:
    def instance() -> web.Application:
        throttle = LoginThrottle(
            per_account="3/minute",
            per_address="20/minute",
            storage=REDIS_URL.replace("redis://", "async+redis://"),
            namespace=namespace,
        )
        return login_app(throttle)

    first, second = await aiohttp_client(instance()), await aiohttp_client(instance())
    assert (await attempt(first, "Alice")).status == 401
    assert (await attempt(second, "alice")).status == 401
    # A success on one instance clears the account's count on both.
    assert (await attempt(first, "alice", "right")).status == 200
    for client in (second, first, second):
        assert (await attempt(client, "ALICE")).status == 401
    refused = await attempt(first, "alice", "right")
    assert refused.status == 429
    assert 55 <= retry_after(refused) <= 60
    # The address's count is shared too: 7 attempts so far, 13 to go.
    for index in range(13):
        assert (await attempt((first, second)[index % 2], f"u{index}")).status == 401
    assert (await attempt(second, "bob")).status == 429


async def test_redis_stopped_is_503_then_recovers(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    audit_records: AuditRecords,
) -> None:
    throttle = LoginThrottle(per_account="2/minute", storage=redis_server.url)
    client = await aiohttp_client(login_app(throttle))
    assert (await attempt(client, "alice")).status == 401
    redis_server.stop()
    for headers in ({}, JSON, {}):
        down = await attempt(client, "alice", "right", headers=headers)
        assert down.status == 503
        assert down.headers["Retry-After"] == "5"
    outages = [r for r in audit_records if r.name == f"{AUDIT}.store"]
    assert [r.__dict__["state"] for r in outages] == ["down"]  # once, not thrice
    assert "refusing logins with 503" in outages[0].getMessage()
    redis_server.start()
    assert (await attempt(client, "alice", "right")).status == 200
    outages = [r for r in audit_records if r.name == f"{AUDIT}.store"]
    assert [r.__dict__["state"] for r in outages] == ["down", "up"]
    throttled = [r for r in audit_records if r.name == f"{AUDIT}.throttle"]
    assert [r.__dict__["status"] for r in throttled] == [503, 503, 503]


async def test_fail_open_lets_logins_through_while_redis_is_down(
    aiohttp_client: AiohttpClient,
    redis_server: RedisServer,
    audit_records: AuditRecords,
) -> None:
    throttle = LoginThrottle(
        per_account="1/minute", storage=redis_server.url, fail_open=True
    )
    client = await aiohttp_client(login_app(throttle))
    redis_server.stop()
    # Unthrottled: failures are neither counted nor a 500.
    assert [(await attempt(client, "alice")).status for _ in range(3)] == [401] * 3
    assert (await attempt(client, "alice", "right")).status == 200
    (outage,) = [r for r in audit_records if r.name == f"{AUDIT}.store"]
    assert "letting logins through unthrottled" in outage.getMessage()
    redis_server.start()
    assert (await attempt(client, "alice")).status == 401
    assert (await attempt(client, "alice")).status == 429


async def test_a_storage_lost_after_the_check_is_no_500(
    aiohttp_client: AiohttpClient, redis_server: RedisServer
) -> None:
    """`failed` and `succeeded` log an outage and return; `failed` counts
    an attempt that no `check` counted."""
    throttle = LoginThrottle(per_account="2/minute", storage=redis_server.url)

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        name = str(form["username"])
        if "nocheck" not in request.query:
            await throttle.check(request, name)
        if "stop" in request.query:
            redis_server.stop()
        if form["password"] != "right":
            await throttle.failed(request, name)
            return web.Response(status=401)
        await throttle.succeeded(request, name)
        return web.Response(text="welcome")

    app = web.Application()
    throttle.setup(app)
    app.router.add_post("/login", login)
    client = await aiohttp_client(app)
    data = {"username": "alice", "password": "right"}
    assert (await client.post("/login?stop", data=data)).status == 200
    assert is_down(throttle)
    assert (await client.post("/login?nocheck", data=data)).status == 200
    redis_server.start()
    data["password"] = "wrong"
    assert (await client.post("/login?nocheck", data=data)).status == 401
    assert not is_down(throttle)
    assert (await client.post("/login?nocheck&stop", data=data)).status == 401
    assert is_down(throttle)
    redis_server.start()  # empty: this server keeps nothing on disk
    assert (await client.post("/login", data=data)).status == 401
    assert (await client.post("/login", data=data)).status == 401
    assert (await client.post("/login", data=data)).status == 429
