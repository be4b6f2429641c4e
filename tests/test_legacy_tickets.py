"""Tickets made by aiohttp_auth (with the real ticket_auth package) keep their
users logged in during the migration, when asked to."""

from __future__ import annotations

import time

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session, session_middleware
from hypothesis import given
from hypothesis import strategies as st
from pytest_aiohttp import AiohttpClient
from ticket_auth import TicketFactory

from aiohttp_guard import (
    CookieTicketPolicy,
    InvalidTicket,
    SessionTicketPolicy,
    TicketCodec,
)
from aiohttp_guard.tickets import LEGACY_KEY_ID

from .apps import make_app
from .conftest import OTHER_SECRET, SECRET
from .cookies import set_cookies
from .test_cookie_policy import remote_from_header


def old_ticket(
    user_id: str = "alice",
    *,
    secret: bytes = SECRET,
    lifetime: float = 60,
    ip: str | None = None,
    tokens: list[str] | None = None,
    user_data: str | None = None,
) -> str:
    factory = TicketFactory(secret)
    return factory.new(
        user_id,
        tokens=tokens,
        user_data=user_data,
        valid_until=time.time() + lifetime,
        client_ip=ip,
    )


async def test_old_cookies_are_accepted_and_reissued(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        make_app(CookieTicketPolicy(SECRET, 3600, accept_legacy=True))
    )
    response = await client.get("/private", cookies={"AUTH_TKT": old_ticket()})
    assert await response.text() == "private for alice"
    renewed = set_cookies(response)["AUTH_TKT"].value
    ticket = TicketCodec(SECRET).decode(renewed)
    assert ticket.user_id == "alice"
    assert await (await client.get("/whoami")).text() == "alice"  # the new cookie


async def test_old_tickets_are_refused_unless_asked_for(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(make_app(CookieTicketPolicy(SECRET, 3600)))
    response = await client.get("/private", cookies={"AUTH_TKT": old_ticket()})
    assert response.status == 401


@pytest.mark.parametrize(
    ("ticket", "why"),
    [
        (old_ticket(secret=OTHER_SECRET), "another secret"),
        (old_ticket(lifetime=-1), "expired"),
        (old_ticket(lifetime=7200), "outlives max_age"),
        (old_ticket(ip="192.0.2.1"), "bound to an address"),
        (old_ticket().replace("alice", "admin"), "tampered"),
        (old_ticket()[:-1], "truncated"),
        ("0" * 136 + "!!", "garbage"),
        ("z" * 128 + "0x00000f" + "a!!", "malformed expiry"),
    ],
)
async def test_bad_old_tickets_are_refused(
    aiohttp_client: AiohttpClient, ticket: str, why: str
) -> None:
    client = await aiohttp_client(
        make_app(CookieTicketPolicy(SECRET, 3600, accept_legacy=True))
    )
    response = await client.get("/private", cookies={"AUTH_TKT": ticket})
    assert response.status == 401, why


async def test_old_tickets_bound_to_an_address(aiohttp_client: AiohttpClient) -> None:
    app = make_app(
        CookieTicketPolicy(SECRET, 3600, include_ip=True, accept_legacy=True)
    )
    remote_from_header(app)
    client = await aiohttp_client(app)
    ticket = old_ticket(ip="2001:db8::7")
    here = {"X-Test-Remote": "2001:db8::7"}
    ok = await client.get("/whoami", cookies={"AUTH_TKT": ticket}, headers=here)
    assert await ok.text() == "alice"
    client.session.cookie_jar.clear()
    elsewhere = {"X-Test-Remote": "2001:db8::8"}
    refused = await client.get(
        "/whoami", cookies={"AUTH_TKT": ticket}, headers=elsewhere
    )
    assert await refused.text() == "None"


async def test_old_tickets_in_sessions(aiohttp_client: AiohttpClient) -> None:
    app = make_app(SessionTicketPolicy(SECRET, 3600, accept_legacy=True))
    app.middlewares.insert(0, session_middleware(SimpleCookieStorage()))

    async def plant(request: web.Request) -> web.Response:
        (await get_session(request))["AUTH_TKT"] = old_ticket("bob")
        return web.Response(text="planted")

    app.router.add_get("/plant", plant)
    client = await aiohttp_client(app)
    await client.get("/plant")
    assert await (await client.get("/whoami")).text() == "bob"
    assert await (await client.get("/whoami")).text() == "bob"  # re-issued, still bob


@given(
    user_id=st.text(min_size=1).filter(lambda s: "\0" not in s),
    tokens=st.lists(st.text(alphabet="abcdefgh-_", min_size=1), max_size=3),
    user_data=st.text(alphabet="abc xyz!,", max_size=10),
)
def test_any_old_ticket_reads_back(
    user_id: str, tokens: list[str], user_data: str
) -> None:
    codec = TicketCodec(SECRET)
    text = old_ticket(user_id, tokens=tokens, user_data=user_data or None)
    ticket = codec.decode_legacy(text, ip=None, max_age=3600)
    assert (ticket.user_id, ticket.tokens, ticket.user_data) == (
        user_id,
        tuple(tokens),
        user_data,
    )
    assert ticket.key_id == LEGACY_KEY_ID
    assert codec.is_retiring(ticket.key_id)


@given(garbage=st.text(max_size=300))
def test_garbage_is_never_a_legacy_ticket(garbage: str) -> None:
    with pytest.raises(InvalidTicket):
        TicketCodec(SECRET).decode_legacy(garbage, ip=None, max_age=3600)


def test_legacy_oversized_input() -> None:
    with pytest.raises(InvalidTicket, match="too long"):
        TicketCodec(SECRET).decode_legacy("a" * 5000, ip=None, max_age=60)


def ticket_with_hex_letters_in_its_expiry() -> str:
    """A ticket whose 8-hex-digit expiry has letters, so its case can change."""
    now = int(time.time())
    expiry = next(t for t in range(now + 600, now + 1200) if not f"{t:08x}".isdigit())
    return TicketFactory(SECRET).new("alice", valid_until=expiry)


DIGEST_AND_EXPIRY = 128 + 8


def upper(text: str, start: int, stop: int) -> str:
    return text[:start] + text[start:stop].upper() + text[stop:]


async def test_legacy_tickets_are_read_only_in_the_case_ticket_auth_writes(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        make_app(CookieTicketPolicy(SECRET, 3600, accept_legacy=True))
    )
    ticket = ticket_with_hex_letters_in_its_expiry()
    assert ticket[:DIGEST_AND_EXPIRY] == ticket[:DIGEST_AND_EXPIRY].lower()
    for text, user in [
        (upper(ticket, 128, DIGEST_AND_EXPIRY), "None"),  # the expiry
        (upper(ticket, 0, 128), "None"),  # the digest
        (ticket, "alice"),
    ]:
        response = await client.get("/whoami", cookies={"AUTH_TKT": text})
        assert await response.text() == user
        client.session.cookie_jar.clear()


def test_a_legacy_ticket_has_one_text() -> None:
    codec = TicketCodec(SECRET)
    # One ticket for every example: it depends on the clock, and hypothesis
    # replays examples, which must draw from the same letters.
    ticket = ticket_with_hex_letters_in_its_expiry()
    letters = [i for i, c in enumerate(ticket[:DIGEST_AND_EXPIRY]) if c.isalpha()]

    @given(where=st.sampled_from(letters))
    def one_letter_upper_cased(where: int) -> None:
        with pytest.raises(InvalidTicket, match=r"malformed|bad legacy signature"):
            codec.decode_legacy(upper(ticket, where, where + 1), ip=None, max_age=3600)

    one_letter_upper_cased()
