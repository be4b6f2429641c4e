"""Secrets never show: not in reprs, logs or error messages."""

from __future__ import annotations

import base64
import logging

import pytest
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    InvalidTicket,
    SessionTicketPolicy,
    TicketCodec,
)

from .apps import make_app

SECRET = b"\x8f top secret key material \x01"


def spellings(secret: bytes) -> list[str]:
    """Ways a secret could leak into text."""
    return [
        repr(secret),
        secret.hex(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        secret.decode("latin-1"),
        "top secret key material",
    ]


def assert_secret_free(text: str) -> None:
    for spelling in spellings(SECRET):
        assert spelling not in text


def test_reprs_hide_secrets() -> None:
    codec = TicketCodec([SECRET, SECRET[::-1]], upcoming=[SECRET + b"!"])
    objects: list[object] = [
        codec,
        CookieTicketPolicy(SECRET, 60),
        SessionTicketPolicy(SECRET, 60),
        BearerTicketPolicy(SECRET, 60),
        AuthService([CookieTicketPolicy(codec, 60), BearerTicketPolicy(codec, 60)]),
        # An old application's secret, read with only: hidden as well.
        TicketCodec(SECRET[::-1], legacy_secret=SECRET),
        CookieTicketPolicy(
            SECRET[::-1], 60, accept_legacy=True, legacy_secret=[SECRET, b"x"]
        ),
    ]
    for thing in objects:
        assert_secret_free(repr(thing))
        assert_secret_free(str(thing))


def test_error_messages_hide_secrets() -> None:
    codec = TicketCodec(SECRET)
    text = codec.encode(codec.issue("alice", 60))
    for attempt in (text[:-2], "v1.x", text.replace("v2.", "v1."), "a" * 5000):
        with pytest.raises(InvalidTicket) as error:
            codec.decode(attempt)
        assert_secret_free(str(error.value))
    with pytest.raises(ValueError, match="no key") as missing:
        TicketCodec(SECRET[::-1]).encode(codec.issue("alice", 60))
    assert_secret_free(str(missing.value))


async def test_logs_hide_secrets(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    codec = TicketCodec(SECRET)
    client = await aiohttp_client(make_app(CookieTicketPolicy(codec, 60)))
    tampered = codec.encode(codec.issue("alice", 60))[:-3] + "AAA"
    with caplog.at_level(logging.DEBUG):
        await client.get("/login", params={"user": "alice"})
        await client.get("/private")
        client.session.cookie_jar.clear()
        await client.get("/private", headers={"Cookie": f"AUTH_TKT={tampered}"})
        await client.get("/private", headers={"Cookie": "AUTH_TKT=garbage"})
        await client.get("/logout")
    assert "rejected AUTH_TKT ticket: bad signature" in caplog.text
    assert_secret_free(caplog.text)
