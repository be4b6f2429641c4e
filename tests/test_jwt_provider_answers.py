"""What a provider may answer when `JWTPolicy` fetches its keys, from a
correct document to garbage: the keys it can use, or a clean 401 with one
log line, never a 500."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.pytest_plugin import AiohttpClient
from aiohttp.test_utils import TestServer, make_mocked_request

from aiohttp_guard import Authenticated, AuthService, JWTPolicy, get_auth
from aiohttp_guard.demo.provider import DemoProvider
from aiohttp_guard.policies._jwks import MAX_DOCUMENT

AUDIENCE = "demo-api"
Answer = Callable[[str], web.StreamResponse]


@Authenticated()
async def me(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


async def answering(discovery: Answer, jwks: Answer) -> tuple[TestServer, str]:
    """A provider whose discovery and key set answer as given (each told the
    server's base URL)."""
    base: list[str] = []

    async def discovered(request: web.Request) -> web.StreamResponse:
        return discovery(base[0])

    async def keys(request: web.Request) -> web.StreamResponse:
        return jwks(base[0])

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovered)
    app.router.add_get("/jwks", keys)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base.append(str(server.make_url("")).rstrip("/"))
    return server, base[0]


def app_trusting(issuer: str) -> web.Application:
    """An app taking the tokens of the provider at `issuer`, which
    `SIGNER` then signs as."""
    SIGNER.issuer = issuer
    app = web.Application()
    AuthService(JWTPolicy(issuer=issuer, audience=AUDIENCE)).setup(app)
    app.router.add_get("/me", me)
    return app


def discovery_of(document: Callable[[str], object]) -> Answer:
    """A discovery document made from the server's base URL."""
    return lambda base: web.json_response(document(base))


def answer(respond: Answer) -> Answer:
    return respond


SIGNER = DemoProvider()


def good_discovery(base: str) -> dict[str, str]:
    return {"issuer": base, "jwks_uri": base + "/jwks"}


def good_keys(base: str) -> web.StreamResponse:
    return web.json_response(SIGNER.jwk_set())


@pytest.mark.parametrize(
    ("discovery", "jwks", "logged"),
    [
        (discovery_of(lambda b: [1, 2]), good_keys, "is not an object"),
        (discovery_of(lambda b: {"issuer": b}), good_keys, "has no jwks_uri"),
        (
            discovery_of(lambda b: {"issuer": b, "jwks_uri": "http://10.1.1.1/k"}),
            good_keys,
            "https URL",
        ),
        (
            discovery_of(lambda b: {"issuer": b + "/x", "jwks_uri": b + "/jwks"}),
            good_keys,
            "names another issuer",
        ),
        (
            discovery_of(good_discovery),
            answer(lambda b: web.Response(text="{")),
            "no JSON",
        ),
        (
            discovery_of(good_discovery),
            answer(lambda b: web.Response(body=b" " * (MAX_DOCUMENT + 1))),
            "more than",
        ),
        (
            discovery_of(good_discovery),
            answer(lambda b: web.json_response({"keys": {}})),
            "not a JWK set",
        ),
        (
            discovery_of(good_discovery),
            answer(lambda b: web.Response(status=302, headers={"Location": b + "/x"})),
            "answered 302",
        ),
        (
            answer(lambda b: web.Response(status=404)),
            good_keys,
            "answered 404",
        ),
    ],
)
async def test_a_provider_answering_wrong_is_a_401_and_one_log_line(
    aiohttp_client: AiohttpClient,
    caplog: pytest.LogCaptureFixture,
    discovery: Answer,
    jwks: Answer,
    logged: str,
) -> None:
    server, base = await answering(discovery, jwks)
    try:
        client = await aiohttp_client(app_trusting(base))
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            for _ in range(3):
                response = await client.get(
                    "/me", headers={"Authorization": f"Bearer {SIGNER.token('a')}"}
                )
                assert response.status == 401
        failures = [
            r.message for r in caplog.records if "could not be fetched" in r.message
        ]
        assert len(failures) == 1
        assert logged in failures[0]
    finally:
        await server.close()


async def test_a_key_set_without_a_usable_key_is_logged(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}
    server, base = await answering(
        discovery_of(good_discovery), answer(lambda b: web.json_response(secret))
    )
    try:
        client = await aiohttp_client(app_trusting(base))
        with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
            token = SIGNER.token("a")
            response = await client.get(
                "/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status == 401
        assert any("no key usable" in r.message for r in caplog.records)
    finally:
        await server.close()


async def test_keys_are_fetched_with_the_session_given(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    sent: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: Any,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        sent.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        policy = JWTPolicy(
            issuer=provider.issuer, audience=AUDIENCE, client_session=session
        )
        app = web.Application()
        AuthService(policy).setup(app)
        app.router.add_get("/me", me)
        client = await aiohttp_client(app)
        token = provider.token("alice")
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200
        assert await policy.get(make_mocked_request("GET", "/")) is None
    assert sent == ["/.well-known/openid-configuration", "/jwks"]
    assert "KeySource" in repr(policy.key_source)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"issuer": ""}, "issuer"),
        ({"audience": ""}, "audience"),
        ({"audience": []}, "audience"),
        ({"max_token_size": 10}, "max_token_size"),
        ({"realm": 'a"b'}, "realm"),
        ({"leeway": -1}, "leeway"),
    ],
)
def test_settings_are_checked(options: dict[str, Any], says: str) -> None:
    settings: dict[str, Any] = {
        "issuer": "https://idp.example",
        "audience": AUDIENCE,
        **options,
    }
    with pytest.raises(ValueError, match=says):
        JWTPolicy(**settings)


async def test_the_stand_in_provider_hands_out_tokens(
    aiohttp_client: AiohttpClient,
) -> None:
    provider = DemoProvider()
    client = await aiohttp_client(provider.app())
    answer = await client.post("/token", data={"sub": "alice", "scope": "notes:read"})
    token = await answer.text()
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert (payload["sub"], payload["scope"]) == ("alice", "notes:read")
    assert (await client.post("/token", data={"scope": "x"})).status == 400
