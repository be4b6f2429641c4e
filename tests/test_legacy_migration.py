"""What a converted aiohttp_auth ticket is worth, and reading it with the old
application's own (possibly short) secret.

aiohttp_auth's tickets record only their expiry, so a converted ticket counts
as issued and logged in at the epoch: never later than the truth. These tests
hold the consequences through real servers: it is never a fresh login, nor is
the ticket it is renewed into; a revocation made after the old login refuses
it and its renewal; `max_lifetime` counts from the epoch.
"""

from __future__ import annotations

import base64
import hmac
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp_session import SimpleCookieStorage, get_session, session_middleware
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    InvalidTicket,
    MemoryRevocationStore,
    SessionTicketPolicy,
    Ticket,
    TicketCodec,
)
from aiohttp_guard.tickets import LEGACY_ISSUED_MS, LEGACY_KEY_ID

from .apps import make_app
from .conftest import SECRET
from .cookies import set_cookies
from .test_legacy_tickets import old_ticket
from .test_tickets import sign

Client = TestClient[web.Request, None]

#: An aiohttp_auth application's secret, too short to sign anything here.
SHORT = b"s3cret"


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


# -- the old application's secret, as it was --------------------------------


async def test_a_short_old_secret_reads_old_tickets_and_the_new_key_signs(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = CookieTicketPolicy(SECRET, 3600, accept_legacy=True, legacy_secret=SHORT)
    client = await aiohttp_client(legacy_app(policy))
    renewed = await renewed_cookie(client, old_ticket(secret=SHORT))
    ticket = TicketCodec(SECRET).decode(renewed)  # the new key alone reads it
    assert ticket.user_id == "alice"
    assert ticket.key_id == policy.codec.signing_key_id
    assert await (await client.get("/whoami")).text() == "alice"


async def test_a_short_old_secret_in_sessions(aiohttp_client: AiohttpClient) -> None:
    policy = SessionTicketPolicy(
        SECRET, 3600, accept_legacy=True, legacy_secret=[b"older", SHORT]
    )
    app = make_app(policy)
    app.middlewares.insert(0, session_middleware(SimpleCookieStorage()))

    async def plant(request: web.Request) -> web.Response:
        (await get_session(request))["AUTH_TKT"] = old_ticket("bob", secret=SHORT)
        return web.Response(text="planted")

    async def stored(request: web.Request) -> web.Response:
        return web.Response(text=(await get_session(request))["AUTH_TKT"])

    app.router.add_get("/plant", plant)
    app.router.add_get("/stored", stored)
    client = await aiohttp_client(app)
    await client.get("/plant")
    assert await (await client.get("/whoami")).text() == "bob"
    text = await (await client.get("/stored")).text()
    assert TicketCodec(SECRET).decode(text).user_id == "bob"


async def test_with_a_legacy_secret_only_it_reads_old_tickets(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = CookieTicketPolicy(SECRET, 3600, accept_legacy=True, legacy_secret=SHORT)
    client = await aiohttp_client(legacy_app(policy))
    signed_by_the_ring = old_ticket(secret=SECRET)
    response = await client.get("/whoami", cookies={"AUTH_TKT": signed_by_the_ring})
    assert await response.text() == "None"


def key_id_of(secret: bytes) -> str:
    """The id a ring would give `secret` (the codec derives it so)."""
    digest = hmac.digest(secret, b"aiohttp_guard key id", "sha256")
    return base64.urlsafe_b64encode(digest[:6]).rstrip(b"=").decode()


def forged_with(secret: bytes, key_id: str) -> str:
    """A current-format ticket for alice signed with `secret` under `key_id`."""
    codec = TicketCodec(SECRET)
    ticket = codec.issue("alice", 3600)
    body = codec.encode(ticket).rsplit(".", 1)[0]
    body = body.replace(f"v1.{codec.signing_key_id}.", f"v1.{key_id}.", 1)
    return sign(body, secret)


async def test_a_short_old_secret_never_verifies_a_current_ticket(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = CookieTicketPolicy(SECRET, 3600, accept_legacy=True, legacy_secret=SHORT)
    client = await aiohttp_client(legacy_app(policy))
    codec = policy.codec
    # Under the id it would have in a ring, and under ids the codec knows.
    for key_id in (key_id_of(SHORT), codec.signing_key_id, LEGACY_KEY_ID):
        forged = forged_with(SHORT, key_id)
        with pytest.raises(InvalidTicket):
            codec.decode(forged)
        response = await client.get("/whoami", cookies={"AUTH_TKT": forged})
        assert await response.text() == "None"
        client.session.cookie_jar.clear()


def test_a_short_old_secret_never_signs() -> None:
    codec = TicketCodec(SECRET, legacy_secret=SHORT)
    assert codec.signing_key_id == TicketCodec(SECRET).signing_key_id
    assert not codec.is_retiring(codec.issue("alice", 60).key_id)
    with pytest.raises(ValueError, match="no key"):
        codec.encode(Ticket("alice", 2, 1, 1, key_id=LEGACY_KEY_ID))
    with pytest.raises(ValueError, match="at least 16 bytes"):
        TicketCodec(SHORT)


@pytest.mark.parametrize(
    ("legacy_secret", "error", "message"),
    [
        ("text", TypeError, "must be bytes, not str"),
        ([SHORT, "text"], TypeError, "must be bytes, not str"),
        (b"", ValueError, "must not be empty"),
        ([], ValueError, "legacy_secret is empty"),
    ],
)
def test_legacy_secrets_are_bytes(
    legacy_secret: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        TicketCodec(SECRET, legacy_secret=legacy_secret)  # type: ignore[arg-type]


def test_a_legacy_secret_goes_with_accept_legacy_and_to_the_codec() -> None:
    with pytest.raises(ValueError, match="accept_legacy=True"):
        CookieTicketPolicy(SECRET, 3600, legacy_secret=SHORT)
    with pytest.raises(ValueError, match="to the TicketCodec"):
        CookieTicketPolicy(
            TicketCodec(SECRET), 3600, accept_legacy=True, legacy_secret=SHORT
        )
    policy = CookieTicketPolicy(
        TicketCodec(SECRET, legacy_secret=SHORT), 3600, accept_legacy=True
    )
    ticket = policy.codec.decode_legacy(old_ticket(secret=SHORT), ip=None, max_age=60)
    assert ticket.user_id == "alice"
