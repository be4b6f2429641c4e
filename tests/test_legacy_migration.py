"""What a converted aiohttp_auth ticket is worth, and reading it with the old
application's own (possibly short) secret.

aiohttp_auth's tickets record only their expiry, so a converted ticket counts
as issued and logged in at the epoch: never later than the truth. These tests
hold the consequences through real servers: it is never a fresh login, nor is
the ticket it is renewed into; a revocation made after the old login refuses
it and its renewal; `max_lifetime` counts from the epoch.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    MemoryRevocationStore,
    SessionTicketPolicy,
    TicketCodec,
)
from aiohttp_guard.tickets import LEGACY_ISSUED_MS, LEGACY_KEY_ID

from .apps import make_app
from .conftest import SECRET
from .cookies import set_cookies
from .test_legacy_tickets import old_ticket

Client = TestClient[web.Request, None]


@Authenticated(fresh_within=600)
async def sensitive(request: web.Request) -> web.Response:
    return web.Response(text="done")


def legacy_app(policy: CookieTicketPolicy, **options: object) -> web.Application:
    """The test app, with a route that wants a login of the last 10 minutes
    and one that logs its user out everywhere."""
    app = make_app(policy, **options)

    async def everywhere(request: web.Request) -> web.Response:
        await AuthService.of(request).logout_everywhere(request.query["user"])
        return web.Response(text="revoked")

    app.router.add_get("/sensitive", sensitive)
    app.router.add_get("/everywhere", everywhere)
    return app


async def renewed_cookie(client: TestClient[web.Request, Any], legacy: str) -> str:
    """Present `legacy` once; the new-format ticket the response renews it into."""
    response = await client.get("/private", cookies={"AUTH_TKT": legacy})
    assert await response.text() == "private for alice"
    return set_cookies(response)["AUTH_TKT"].value


def test_a_converted_ticket_counts_as_issued_and_logged_in_at_the_epoch() -> None:
    codec = TicketCodec(SECRET)
    # Issued by an app whose max_age was 10 s: the guess `expiry - max_age`
    # would have put its login nearly an hour later than the truth.
    ticket = codec.decode_legacy(old_ticket(lifetime=3590), ip=None, max_age=3600)
    assert (ticket.issued_ms, ticket.login_ms) == (LEGACY_ISSUED_MS, 0)
    assert ticket.key_id == LEGACY_KEY_ID
    renewed = codec.issue(ticket.user_id, 3600, login_ms=ticket.login_ms)
    assert renewed.login_ms == 0
    assert renewed.issued_ms > 0


async def test_a_converted_ticket_is_never_a_fresh_login(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        legacy_app(CookieTicketPolicy(SECRET, 3600, accept_legacy=True))
    )
    # Its expiry is 10 s short of max_age: the old guess said "logged in 10 s ago".
    legacy = old_ticket(lifetime=3590)
    refused = await client.get("/sensitive", cookies={"AUTH_TKT": legacy})
    assert refused.status == 401
    client.session.cookie_jar.clear()

    renewed = await renewed_cookie(client, legacy)
    assert TicketCodec(SECRET).decode(renewed).login_ms == 0
    assert await (await client.get("/whoami")).text() == "alice"  # the renewal
    assert (await client.get("/sensitive")).status == 401

    await client.get("/login", params={"user": "alice"})  # a real login
    assert await (await client.get("/sensitive")).text() == "done"


async def test_a_revocation_after_the_old_login_refuses_the_ticket(
    aiohttp_client: AiohttpClient,
) -> None:
    store = MemoryRevocationStore()
    policy = CookieTicketPolicy(SECRET, 6000, accept_legacy=True)
    client = await aiohttp_client(legacy_app(policy, revocations=store))
    now = time.time()
    # Logged in 25 minutes ago on an app whose max_age was 2 hours; logged
    # out everywhere 1000 s ago. The guess `expiry - max_age` put the issue
    # 300 s ago, after the revocation, and let the ticket through.
    legacy = old_ticket(lifetime=7200 - 1500)
    accepted = await client.get("/whoami", cookies={"AUTH_TKT": legacy})
    assert await accepted.text() == "alice"  # before the revocation
    client.session.cookie_jar.clear()
    await store.revoke("alice", int((now - 1000) * 1000), ttl=None)
    response = await client.get("/whoami", cookies={"AUTH_TKT": legacy})
    assert await response.text() == "None"
    assert set_cookies(response)["AUTH_TKT"].value == ""  # and its cookie cleared


async def test_logout_everywhere_refuses_a_converted_ticket_and_its_renewal(
    aiohttp_client: AiohttpClient,
) -> None:
    phone = await aiohttp_client(
        legacy_app(CookieTicketPolicy(SECRET, 3600, accept_legacy=True))
    )
    laptop: Client = await aiohttp_client(phone.server)
    legacy = old_ticket(lifetime=600)
    renewed = await renewed_cookie(phone, legacy)
    assert await (await phone.get("/whoami")).text() == "alice"

    assert await (await laptop.get("/everywhere?user=alice")).text() == "revoked"
    for ticket in (renewed, legacy):
        phone.session.cookie_jar.clear()
        response = await phone.get("/whoami", cookies={"AUTH_TKT": ticket})
        assert await response.text() == "None"


def test_max_lifetime_is_refused_with_accept_legacy() -> None:
    for policy in (CookieTicketPolicy, SessionTicketPolicy):
        with pytest.raises(ValueError, match="do not record when their user logged"):
            policy(SECRET, 3600, accept_legacy=True, max_lifetime=86400)
    CookieTicketPolicy(SECRET, 3600, max_lifetime=86400)  # each alone is fine
    CookieTicketPolicy(SECRET, 3600, accept_legacy=True)


async def test_max_lifetime_after_the_migration_counts_from_the_epoch(
    aiohttp_client: AiohttpClient,
) -> None:
    during = await aiohttp_client(
        legacy_app(CookieTicketPolicy(SECRET, 3600, accept_legacy=True))
    )
    renewed = await renewed_cookie(during, old_ticket(lifetime=600))
    # After the migration: accept_legacy off, max_lifetime on (a year).
    after = await aiohttp_client(
        legacy_app(CookieTicketPolicy(SECRET, 3600, max_lifetime=365 * 86400))
    )
    response = await after.get("/whoami", cookies={"AUTH_TKT": renewed})
    assert await response.text() == "None"  # its login time was never known
    after.session.cookie_jar.clear()
    await after.get("/login", params={"user": "alice"})
    assert await (await after.get("/whoami")).text() == "alice"
