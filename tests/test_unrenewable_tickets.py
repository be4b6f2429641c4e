"""A ticket the server accepts but cannot renew in the format it writes
(an earlier format's ticket too long for the current one, or a session id
on an instance still writing format v1) is kept until it expires: its
requests succeed, never a 500 on each of them."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, session_middleware
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import CookieTicketPolicy, SessionTicketPolicy, TicketCodec

from .apps import make_app
from .conftest import OTHER_SECRET, SECRET, Clock
from .cookies import set_cookies
from .test_legacy_tickets import old_ticket

#: Accepted in format v1 (3,400 characters), too long once written in v2.
MANY_TOKENS = ["r"] * 1100


def app_for(kind: str, codec: TicketCodec, **options: Any) -> web.Application:
    if kind == "cookie":
        return make_app(CookieTicketPolicy(codec, 3600, **options))
    app = make_app(SessionTicketPolicy(codec, 3600, **options))
    app.middlewares.insert(0, session_middleware(SimpleCookieStorage()))
    return app


def send(kind: str, text: str) -> dict[str, str]:
    if kind == "cookie":
        return {"Cookie": f"AUTH_TKT={text}"}
    return {"Cookie": "AIOHTTP_SESSION=" + json.dumps({"session": {"AUTH_TKT": text}})}


@pytest.mark.parametrize("kind", ["cookie", "session"])
async def test_an_old_key_s_ticket_too_long_for_v2_is_kept_not_a_500(
    aiohttp_client: AiohttpClient, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    old = TicketCodec(OTHER_SECRET, write_version=1)
    text = old.encode(old.issue("alice", 3600, tokens=MANY_TOKENS))
    # The old key is retiring: every request would re-sign the ticket.
    client = await aiohttp_client(app_for(kind, TicketCodec([SECRET, OTHER_SECRET])))
    for _ in range(2):
        with caplog.at_level(logging.WARNING, "aiohttp_guard"):
            response = await client.get("/whoami", headers=send(kind, text))
        assert response.status == 200
        assert await response.text() == "alice"
        assert "could not be renewed" in caplog.text
        caplog.clear()
        if kind == "cookie":
            assert "AUTH_TKT" not in set_cookies(response)


@pytest.mark.parametrize("kind", ["cookie", "session"])
async def test_an_instance_writing_v1_keeps_a_session_ticket_it_cannot_renew(
    aiohttp_client: AiohttpClient, kind: str
) -> None:
    clock = Clock()
    newer = TicketCodec(SECRET, clock=clock)
    text = newer.encode(newer.issue("alice", 3600, session_id="s1"))
    client = await aiohttp_client(
        app_for(
            kind, TicketCodec(SECRET, clock=clock, write_version=1), reissue_time=1800
        )
    )
    clock.now += 2000  # due for renewal
    response = await client.get("/whoami", headers=send(kind, text))
    assert response.status == 200
    assert await response.text() == "alice"
    clock.now += 1600  # past its expiry: refused as any expired ticket
    response = await client.get("/whoami", headers=send(kind, text))
    assert await response.text() == "None"


async def test_an_aiohttp_auth_ticket_too_long_to_convert_is_kept_not_a_500(
    aiohttp_client: AiohttpClient,
) -> None:
    text = old_ticket(tokens=["r"] * 1300, lifetime=600)
    client = await aiohttp_client(
        app_for("cookie", TicketCodec(SECRET), accept_legacy=True)
    )
    response = await client.get("/whoami", headers=send("cookie", text))
    assert response.status == 200
    assert await response.text() == "alice"
    assert "AUTH_TKT" not in set_cookies(response)
