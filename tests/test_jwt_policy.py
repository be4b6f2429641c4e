"""`JWTPolicy` against an identity provider served on loopback: discovery,
keys, every claim check, scopes through ACLs, revocation and challenges."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp
import attrs
import jwt
import pytest
from aiohttp import web
from aiohttp.pytest_plugin import AiohttpClient
from aiohttp.test_utils import TestClient, make_mocked_request
from cryptography.hazmat.primitives import serialization
from redis.asyncio import Redis

from aiohttp_guard import (
    ACL,
    Allow,
    Authenticated,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    DefaultErrorHandler,
    JWTPolicy,
    Public,
    RedisRevocationStore,
    RequestContext,
    Requires,
    Scope,
    get_auth,
    remember,
)
from aiohttp_guard.demo.provider import DemoProvider
from aiohttp_guard.testing import bearer_header

from .conftest import SECRET, Clock
from .test_login_sessions import SwitchableEnds

Client = TestClient[web.Request, web.Application]
AUDIENCE = "demo-api"

NOTES: ACL[str] = ACL(
    [
        (Allow, Scope("notes:read"), "read"),
        (Allow, "staff", ("read", "write")),
        (Allow, Scope("notes:write"), "write"),
    ]
)


@Authenticated()
async def me(request: web.Request) -> web.Response:
    identity = await AuthService.of(request).identity(request)
    assert identity is not None
    return web.json_response(
        {
            "user": identity.user_id,
            "scopes": sorted(identity.scopes),
            "email": identity.claims.get("email"),
        }
    )


@Requires("read", NOTES)
async def read_notes(request: web.Request) -> web.Response:
    return web.Response(text=f"notes for {await get_auth(request)}")


@Requires("write", NOTES)
async def write_notes(request: web.Request) -> web.Response:
    return web.Response(text="written")


@Public()
async def login(request: web.Request) -> web.Response:
    try:
        await remember(request, request.query["user"])
    except TypeError as exc:
        return web.Response(status=409, text=str(exc))
    return web.Response(text="logged in")


@Authenticated()
async def logout_everywhere(request: web.Request) -> web.Response:
    user = await get_auth(request)
    assert user is not None
    await AuthService.of(request).logout_everywhere(user, request)
    return web.Response(text="revoked")


def api_app(*policies: Any, groups: Any = None) -> web.Application:
    app = web.Application()
    AuthService(list(policies), groups=groups).setup(app)
    app.add_routes(
        [
            web.get("/me", me),
            web.get("/notes", read_notes),
            web.post("/notes", write_notes),
            web.get("/login", login),
            web.post("/logout-everywhere", logout_everywhere),
        ]
    )
    return app


def policy_for(provider: DemoProvider, **options: Any) -> JWTPolicy:
    return JWTPolicy(issuer=provider.issuer, audience=AUDIENCE, **options)


async def on_a_clock(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> tuple[JWTPolicy, Clock, Client]:
    """A policy for `provider` whose key fetches go by a clock the test
    sets, and a client of an app that uses it."""
    policy = policy_for(provider)
    policy.key_source.clock = clock = Clock(1000.0)
    return policy, clock, await serve(aiohttp_client, api_app(policy))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def serve(aiohttp_client: AiohttpClient, app: web.Application) -> Client:
    return await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())


async def status(client: Client, token: str, path: str = "/me") -> int:
    async with client.get(path, headers=bearer(token)) as response:
        return response.status


def challenge_of(response: aiohttp.ClientResponse) -> str:
    return response.headers.get("WWW-Authenticate", "")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: Mapping[str, Any], claims: Mapping[str, Any], sign: bytes) -> str:
    """A token assembled by hand, signed with HMAC-SHA256 under `sign`."""
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    )
    mac = hmac.new(sign, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


# -- valid tokens -------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_a_valid_token_of_each_algorithm_identifies_its_subject(
    aiohttp_client: AiohttpClient, provider: DemoProvider, algorithm: Any
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    token = provider.token(
        "alice",
        scope="notes:read profile",
        algorithm=algorithm,
        claims={"email": "x"},
    )
    async with client.get("/me", headers=bearer(token)) as response:
        assert response.status == 200
        assert await response.json() == {
            "user": "alice",
            "scopes": ["notes:read", "profile"],
            "email": "x",
        }
    # Discovery once, the key set once, whatever the number of requests.
    for _ in range(3):
        assert await status(client, token) == 200
    assert (provider.discovery_requests, provider.jwks_requests) == (1, 1)


async def test_jwks_url_skips_discovery_and_static_keys_fetch_nothing(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    by_url = policy_for(provider, jwks_url=provider.issuer + "/jwks")
    client = await serve(aiohttp_client, api_app(by_url))
    assert await status(client, provider.token("alice")) == 200
    assert (provider.discovery_requests, provider.jwks_requests) == (0, 1)

    static = policy_for(provider, keys=provider.jwk_set())
    client = await serve(aiohttp_client, api_app(static))
    assert await status(client, provider.token("bob", algorithm="EdDSA")) == 200
    assert (provider.discovery_requests, provider.jwks_requests) == (0, 1)


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT decodes, in order, while the test runs."""
    checked: list[str] = []
    decode = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    return checked


async def test_a_token_is_verified_once_and_kept_until_it_expires(
    aiohttp_client: AiohttpClient,
    provider: DemoProvider,
    signature_checks: list[str],
) -> None:
    policy = policy_for(provider, keys=provider.jwk_set(), leeway=0)
    client = await serve(aiohttp_client, api_app(policy))
    token = provider.token("alice", lifetime=2)
    for _ in range(5):
        assert await status(client, token) == 200
    assert signature_checks == [token]
    # Past its exp, the kept token is checked again, and refused.
    expires = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    await asyncio.sleep(expires - time.time() + 0.05)
    assert await status(client, token) == 401


async def test_a_refused_token_sent_again_costs_no_signature_check(
    aiohttp_client: AiohttpClient,
    provider: DemoProvider,
    signature_checks: list[str],
) -> None:
    policy = policy_for(provider, keys=provider.jwk_set())
    client = await serve(aiohttp_client, api_app(policy))
    genuine = provider.token("alice")
    tampered = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    expired = provider.token("alice", claims={"exp": int(time.time()) - 3600})
    for token, description in ((tampered, "signature"), (expired, "expired")):
        for _ in range(3):
            async with client.get("/me", headers=bearer(token)) as response:
                assert response.status == 401
                assert description in challenge_of(response)
    assert signature_checks == [tampered, expired]
    # The genuine one is not among them.
    assert await status(client, genuine) == 200


async def test_a_token_not_valid_yet_is_accepted_once_it_is(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    policy = policy_for(provider, keys=provider.jwk_set(), leeway=0)
    client = await serve(aiohttp_client, api_app(policy))
    starts = int(time.time()) + 1
    token = provider.token("alice", claims={"nbf": starts, "iat": starts - 1})
    assert await status(client, token) == 401
    await asyncio.sleep(starts - time.time() + 0.05)
    assert await status(client, token) == 200


# -- claims -------------------------------------------------------------------


class Ago(NamedTuple):
    """A time claim, that many seconds before the test runs (negative: after)."""

    seconds: int


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"iss": "https://elsewhere.example"}, "another issuer"),
        ({"aud": "another-api"}, "another audience"),
        ({"aud": ["another-api", "a-third"]}, "another audience"),
        ({"exp": Ago(3600)}, "expired"),
        ({"nbf": Ago(-3600)}, "not valid yet"),
        ({"iat": Ago(-3600)}, "not valid yet"),
        ({"sub": ""}, "subject"),
        ({"sub": 42}, "subject"),
        ({"scope": 42}, "scopes"),
        ({"iat": Ago(3 * 86400), "exp": Ago(-60)}, "longer"),
    ],
)
async def test_a_token_failing_a_claim_check_gets_a_401_that_says_why(
    aiohttp_client: AiohttpClient,
    provider: DemoProvider,
    claims: dict[str, Any],
    description: str,
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    now = int(time.time())
    dated = {k: now - v.seconds if isinstance(v, Ago) else v for k, v in claims.items()}
    token = provider.token("alice", claims=dated)
    async with client.get("/me", headers=bearer(token)) as response:
        assert response.status == 401
        challenge = challenge_of(response)
    assert challenge.startswith('Bearer realm="aiohttp_guard", error="invalid_token"')
    assert description in challenge
    for part in token.split("."):
        assert part[:16] not in challenge


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
async def test_a_token_without_a_required_claim_is_refused(
    aiohttp_client: AiohttpClient, provider: DemoProvider, missing: str
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    token = provider.token("alice")
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    del payload[missing]
    key = provider.key_for("RS256")
    stripped = jwt.encode(payload, key.private, "RS256", headers={"kid": key.kid})
    assert await status(client, stripped) == 401


async def test_an_audience_list_on_either_side_needs_one_in_common(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    policy = JWTPolicy(issuer=provider.issuer, audience=["other", AUDIENCE])
    client = await serve(aiohttp_client, api_app(policy))
    both = provider.token("alice", claims={"aud": ["x", AUDIENCE]})
    assert await status(client, both) == 200
    assert await status(client, provider.token("alice", claims={"aud": "other"})) == 200
    assert await status(client, provider.token("alice", claims={"aud": ["y"]})) == 401


async def test_leeway_edges(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider, leeway=30)))
    now = int(time.time())
    accepted = [
        {"exp": now - 15},  # expired, within the leeway
        {"nbf": now + 15},  # not yet valid, within the leeway
        {"iat": now + 15, "nbf": now},
    ]
    refused = [{"exp": now - 45}, {"nbf": now + 45}, {"iat": now + 45, "nbf": now}]
    for claims in accepted:
        assert await status(client, provider.token("alice", claims=claims)) == 200
    for claims in refused:
        assert await status(client, provider.token("alice", claims=claims)) == 401


# -- algorithms and keys --------------------------------------------------------


async def test_alg_none_is_refused(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    genuine = provider.token("alice")
    header = {"alg": "none", "kid": provider.key_for("RS256").kid}
    payload = genuine.split(".")[1]
    for signature in ("", genuine.split(".")[2]):
        token = f"{b64(json.dumps(header).encode())}.{payload}.{signature}"
        async with client.get("/me", headers=bearer(token)) as response:
            assert response.status == 401
            assert "algorithm is not accepted" in challenge_of(response)


async def test_hs256_signed_with_the_public_key_is_refused(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    key = provider.key_for("RS256")
    pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = json.loads(
        base64.urlsafe_b64decode(provider.token("alice").split(".")[1] + "==")
    )
    for secret in (pem, json.dumps(key.public_jwk()).encode()):
        token = hand_made({"alg": "HS256", "kid": key.kid}, claims, secret)
        assert await status(client, token) == 401


def test_symmetric_and_unknown_algorithms_cannot_be_allowed(
    provider: DemoProvider,
) -> None:
    for algorithms in (["HS256"], ["RS256", "none"], ["RS256", "HS512"], []):
        with pytest.raises(ValueError, match="algorithm"):
            policy_for(provider, algorithms=algorithms)
    with pytest.raises(TypeError):
        policy_for(provider, algorithms="RS256")


async def test_the_algorithm_must_fit_the_key_and_the_allow_list(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    only_rsa = policy_for(provider, algorithms=("RS256",))
    client = await serve(aiohttp_client, api_app(only_rsa))
    assert await status(client, provider.token("alice")) == 200
    assert await status(client, provider.token("alice", algorithm="EdDSA")) == 401
    # An RS256 token claiming to be signed by the EC key.
    ec_kid = provider.key_for("ES256").kid
    assert await status(client, provider.token("a", headers={"kid": ec_kid})) == 401
    # PS256 with an RSA key published for RS256 only.
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    rsa = provider.key_for("RS256")
    claims = {"iss": provider.issuer, "aud": AUDIENCE, "sub": "a", "iat": 0}
    claims["exp"] = int(time.time()) + 60
    claims["iat"] = int(time.time())
    pss = jwt.encode(claims, rsa.private, "PS256", headers={"kid": rsa.kid})
    assert await status(client, pss) == 401


async def test_a_token_without_kid_uses_the_only_key_for_its_algorithm(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    assert await status(client, provider.token("a", headers={"kid": None})) == 200
    provider.add_key("RS256")  # now two RSA keys: which one is not said
    fresh = policy_for(provider)
    client = await serve(aiohttp_client, api_app(fresh))
    assert await status(client, provider.token("a", headers={"kid": None})) == 401


async def test_a_rotation_fetches_the_new_key_once_and_drops_the_old_one(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    _, clock, client = await on_a_clock(aiohttp_client, provider)
    old_key = provider.key_for("RS256")
    old_token = provider.token("alice")
    assert await status(client, old_token) == 200
    assert provider.jwks_requests == 1

    new_key = provider.add_key("RS256")
    provider.remove_key(old_key.kid)
    clock.now += 31
    new_token = provider.token("bob", key=new_key)
    for _ in range(3):
        assert await status(client, new_token) == 200
    assert provider.jwks_requests == 2
    # The set that verified the old token is gone, and so is its key.
    assert await status(client, old_token) == 401
    assert provider.jwks_requests == 2


async def test_a_flood_of_unknown_key_ids_costs_one_fetch_per_interval(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    _, clock, client = await on_a_clock(aiohttp_client, provider)
    assert await status(client, provider.token("alice")) == 200
    assert provider.jwks_requests == 1

    def made_up() -> str:
        return provider.token("mallory", headers={"kid": f"kid-{time.time_ns()}"})

    for _ in range(40):
        assert await status(client, made_up()) == 401
    assert provider.jwks_requests == 1  # fetched within the last 30 s
    clock.now += 29
    for _ in range(20):
        assert await status(client, made_up()) == 401
    assert provider.jwks_requests == 1
    clock.now += 2
    for _ in range(20):
        assert await status(client, made_up()) == 401
    assert provider.jwks_requests == 2


async def test_concurrent_requests_share_one_fetch(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    tokens = [provider.token(f"user{i}") for i in range(20)]
    statuses = await asyncio.gather(*(status(client, t) for t in tokens))
    assert statuses == [200] * 20
    assert (provider.discovery_requests, provider.jwks_requests) == (1, 1)


# -- the provider's schedule and outages ----------------------------------------


@pytest.mark.parametrize(
    ("cache_control", "kept"),
    [
        ("max-age=5", 60),  # at least a minute
        ("public, max-age=600", 600),
        ("max-age=999999", 86400),  # at most a day
        ("no-store", 60),
        (None, 300),  # unsaid: five minutes
    ],
)
async def test_keys_are_kept_as_long_as_the_provider_says_within_bounds(
    aiohttp_client: AiohttpClient,
    provider: DemoProvider,
    cache_control: str | None,
    kept: int,
) -> None:
    provider.cache_control = cache_control
    policy, clock, client = await on_a_clock(aiohttp_client, provider)
    assert await status(client, provider.token("alice")) == 200
    clock.now += kept - 1
    assert await status(client, provider.token("bob")) == 200
    await policy.key_source.idle()
    assert provider.jwks_requests == 1
    clock.now += 2
    assert await status(client, provider.token("carol")) == 200
    await policy.key_source.idle()
    assert provider.jwks_requests == 2


async def test_provider_down_with_warm_keys_keeps_working(
    aiohttp_client: AiohttpClient,
    provider: DemoProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy, clock, client = await on_a_clock(aiohttp_client, provider)
    assert await status(client, provider.token("alice")) == 200
    provider.up = False
    clock.now += 400  # the set is stale: refreshing it fails
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        for _ in range(5):
            assert await status(client, provider.token("bob")) == 200
            await policy.key_source.idle()
    failures = [r for r in caplog.records if "could not be fetched" in r.message]
    assert len(failures) == 1
    assert "stay in use" in failures[0].message


async def test_provider_down_and_no_keys_is_a_401_with_one_log_line(
    aiohttp_client: AiohttpClient,
    provider: DemoProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider.up = False
    policy = policy_for(provider)
    client = await serve(aiohttp_client, api_app(policy))
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        for _ in range(10):
            async with client.get(
                "/me", headers=bearer(provider.token("alice"))
            ) as response:
                assert response.status == 401
                assert "keys are not available" in challenge_of(response)
    failures = [r for r in caplog.records if "could not be fetched" in r.message]
    assert len(failures) == 1
    assert "refused until" in failures[0].message
    assert provider.discovery_requests == 1


async def test_an_unreachable_provider_is_a_401_not_a_500(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    from .conftest import free_port  # noqa: PLC0415

    nobody = JWTPolicy(
        issuer=f"http://127.0.0.1:{free_port()}", audience=AUDIENCE, fetch_timeout=2
    )
    client = await serve(aiohttp_client, api_app(nobody))
    assert await status(client, provider.token("alice")) == 401


async def test_discovery_naming_another_issuer_is_not_trusted(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    impostor = JWTPolicy(issuer=provider.issuer + "/", audience=AUDIENCE)
    client = await serve(aiohttp_client, api_app(impostor))
    token = provider.token("alice", claims={"iss": provider.issuer + "/"})
    assert await status(client, token) == 401
    assert provider.jwks_requests == 0


async def test_one_deadline_covers_discovery_and_the_key_set(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    provider.delay = 0.3  # each answer alone within the timeout, both not
    slow = policy_for(provider, fetch_timeout=0.5)
    client = await serve(aiohttp_client, api_app(slow))
    assert await status(client, provider.token("alice")) == 401
    patient = policy_for(provider, fetch_timeout=5)
    client = await serve(aiohttp_client, api_app(patient))
    assert await status(client, provider.token("alice")) == 200


async def test_the_discovered_key_set_url_is_kept_until_it_fails(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    _, clock, client = await on_a_clock(aiohttp_client, provider)
    assert await status(client, provider.token("alice")) == 200
    for _ in range(3):
        clock.now += 31
        new_key = provider.add_key("EdDSA")
        assert await status(client, provider.token("a", key=new_key)) == 200
    assert (provider.discovery_requests, provider.jwks_requests) == (1, 4)
    provider.up = False
    clock.now += 31
    assert await status(client, provider.token("a", headers={"kid": "x"})) == 401
    provider.up = True
    clock.now += 31
    assert await status(client, provider.token("a", key=provider.add_key())) == 200
    # The failed fetch asked the kept URL; the next one discovered it again.
    assert (provider.discovery_requests, provider.jwks_requests) == (2, 6)


@pytest.mark.parametrize(
    ("option", "value"), [("fetch_timeout", 0), ("refetch_interval", 0.5)]
)
def test_settings_that_would_undo_the_protections_are_refused(
    provider: DemoProvider, option: str, value: float
) -> None:
    with pytest.raises(ValueError, match=option):
        policy_for(provider, **{option: value})


def test_keys_are_fetched_over_https_or_loopback_only() -> None:
    for url in (
        "http://idp.example",
        "ftp://127.0.0.1",
        "/relative",
        "http://10.0.0.1",
    ):
        with pytest.raises(ValueError, match="URL"):
            JWTPolicy(issuer=url, audience=AUDIENCE)
        with pytest.raises(ValueError, match="URL"):
            JWTPolicy(issuer="https://idp.example", audience=AUDIENCE, jwks_url=url)
    for url in ("https://idp.example", "http://localhost:9", "http://[::1]:9"):
        JWTPolicy(issuer=url, audience=AUDIENCE)


def test_static_keys_must_hold_a_usable_key(provider: DemoProvider) -> None:
    secret = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}
    with pytest.raises(ValueError, match="no key usable"):
        policy_for(provider, keys=secret)
    with pytest.raises(ValueError, match="not both"):
        policy_for(provider, keys=provider.jwk_set(), jwks_url=provider.issuer)


# -- scopes, claims and the rest of the service ---------------------------------


async def test_scopes_become_principals_that_acls_grant_by(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    reader = provider.token("alice", scope="notes:read")
    writer = provider.token("bob", scope="notes:read notes:write")
    listed = provider.token("carol", claims={"scp": ["notes:read", "notes:write"]})
    nothing = provider.token("dave")
    assert await status(client, reader, "/notes") == 200
    async with client.post("/notes", headers=bearer(reader)) as response:
        assert response.status == 403
    for token in (writer, listed):
        async with client.post("/notes", headers=bearer(token)) as response:
            assert response.status == 200
    assert await status(client, nothing, "/notes") == 403
    # A scope named like a group grants nothing a group would.
    staff = provider.token("eve", scope="staff")
    async with client.post("/notes", headers=bearer(staff)) as response:
        assert response.status == 403


async def test_a_scope_claim_of_your_own(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    policy = policy_for(provider, scope_claim="permissions")
    client = await serve(aiohttp_client, api_app(policy))
    token = provider.token("a", claims={"permissions": ["notes:read"]})
    assert await status(client, token, "/notes") == 200
    ignored = provider.token("a", scope="notes:read")
    assert await status(client, ignored, "/notes") == 403


async def test_groups_and_scopes_add_up(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    def groups(user: str | None) -> tuple[str, ...] | None:
        return {"staff-member": ("staff",), "banned": None}.get(user or "", ())

    client = await serve(aiohttp_client, api_app(policy_for(provider), groups=groups))
    async with client.post(
        "/notes", headers=bearer(provider.token("staff-member"))
    ) as response:
        assert response.status == 200
    # The resolver denying a user everything wins over the token's scopes.
    banned = provider.token("banned", scope="notes:read notes:write")
    assert await status(client, banned, "/notes") == 403


async def test_claims_are_read_only(provider: DemoProvider) -> None:
    from aiohttp.test_utils import make_mocked_request  # noqa: PLC0415

    policy = policy_for(provider, keys=provider.jwk_set())
    token = provider.token("a", claims={"groups": ["x"], "address": {"c": "FR"}})
    request = make_mocked_request("GET", "/", headers=bearer(token))
    identity = await policy.identify(request)
    assert identity is not None
    assert identity.claims["groups"] == ("x",)
    assert identity.claims["address"] == {"c": "FR"}
    with pytest.raises(TypeError):
        identity.claims["sub"] = "b"  # type: ignore[index]
    with pytest.raises(TypeError):
        identity.claims["address"]["c"] = "US"  # type: ignore[index]
    assert identity.sessionless
    assert identity.issued_ms is not None


async def test_remember_is_a_type_error_and_forget_does_nothing(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    async with client.get("/login", params={"user": "alice"}) as response:
        assert response.status == 409
        assert "identity provider issues" in await response.text()
    token = provider.token("alice")
    async with client.get(
        "/login", params={"user": "bob"}, headers=bearer(token)
    ) as response:
        assert response.status == 409


async def test_logout_everywhere_refuses_tokens_issued_before_it(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    before = provider.token("alice")
    other_user = provider.token("bob")
    assert await status(client, before) == 200
    async with client.post("/logout-everywhere", headers=bearer(before)) as response:
        assert response.status == 200
    assert await status(client, before) == 401
    assert await status(client, other_user) == 200
    # Issued after the revocation (the provider's clock a little ahead).
    after = provider.token("alice", claims={"iat": int(time.time()) + 5})
    assert await status(client, after) == 200


async def test_provider_tokens_are_not_login_sessions(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    app = api_app(policy_for(provider))
    client = await serve(aiohttp_client, app)
    assert await status(client, provider.token("alice")) == 200
    service = AuthService.of(app)
    assert await service.sessions("alice") == []


async def test_numbers_too_large_for_a_float_are_a_401_not_a_500(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    for claims in ({"exp": 10**309}, {"iat": -(10**309)}, {"auth_time": 10**309}):
        token = provider.token("alice", claims=claims)
        assert await status(client, token) in (200, 401)
    huge = provider.token("alice", claims={"exp": 10**309})
    assert await status(client, huge) == 401


async def test_a_login_at_the_provider_before_logout_everywhere_is_refused(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """A token refreshed after the revocation, from a provider session that
    began before it (`auth_time`), is refused: a refresh token stolen before
    the logout must not outlive it. A new login at the provider is let in."""
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    logged_in = int(time.time()) - 60
    token = provider.token("alice", claims={"auth_time": logged_in})
    async with client.post("/logout-everywhere", headers=bearer(token)) as response:
        assert response.status == 200
    later = int(time.time()) + 2
    refreshed = provider.token("alice", claims={"auth_time": logged_in, "iat": later})
    assert await status(client, refreshed) == 401
    again = provider.token("alice", claims={"auth_time": later, "iat": later})
    assert await status(client, again) == 200


async def test_a_token_verified_before_a_logout_is_refused_after_it(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """Even with an `iat` a little ahead (a provider's clock running fast,
    within the leeway): it was verified, so issued, before the logout."""
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    ahead = provider.token("alice", claims={"iat": int(time.time()) + 20})
    assert await status(client, ahead) == 200
    other = provider.token("alice")
    async with client.post("/logout-everywhere", headers=bearer(other)) as response:
        assert response.status == 200
    assert await status(client, ahead) == 401


async def test_bearer_without_a_token_is_no_credential(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    for header in ("Bearer", "Bearer ", "bearer   "):
        async with client.get("/me", headers={"Authorization": header}) as response:
            assert response.status == 401
            assert challenge_of(response) == 'Bearer realm="aiohttp_guard"'


async def test_a_401_without_a_token_challenges_without_an_error(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    policy = policy_for(provider, realm="notes")
    client = await serve(aiohttp_client, api_app(policy))
    async with client.get("/me") as response:
        assert response.status == 401
        assert challenge_of(response) == 'Bearer realm="notes"'


@pytest.mark.parametrize(
    "token",
    [
        "x" * 2000,
        "not-a-jwt",
        "a.b.c.d.e",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "....",
        "eyJ9.eyJ9.eyJ9",
        b64(b'{"alg":"RS256","kid":7}') + ".e30.AA",
        b64(b'{"alg":["RS256"]}') + ".e30.AA",
        b64(b"[1]") + ".e30.AA",
    ],
)
async def test_garbage_is_a_clean_401_without_fetching(
    aiohttp_client: AiohttpClient, provider: DemoProvider, token: str
) -> None:
    policy = policy_for(provider, max_token_size=1000)
    client = await serve(aiohttp_client, api_app(policy))
    async with client.get("/me", headers=bearer(token)) as response:
        assert response.status == 401
        assert 'error="invalid_token"' in challenge_of(response)
        assert token[:20] not in challenge_of(response)
    assert provider.jwks_requests == 0


# -- beside cookies ---------------------------------------------------------------


def staff_if_ann(user_id: str | None) -> tuple[str, ...]:
    return ("staff",) if user_id == "ann" else ()


async def test_one_chain_serves_browsers_and_api_clients_on_the_same_routes(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    cookie = CookieTicketPolicy(SECRET, max_age=600)
    app = api_app(policy_for(provider), cookie, groups=staff_if_ann)
    client = await aiohttp_client(app)
    # A browser logs in: the login goes to the cookie policy.
    async with client.get("/login", params={"user": "ann"}) as response:
        assert response.status == 200
        assert "AUTH_TKT" in response.cookies
    async with client.post("/notes") as response:
        assert response.status == 200
    # An API client on the same routes, with the provider's token.
    api = await serve(aiohttp_client, app)
    token = provider.token("api-client", scope="notes:read")
    assert await status(api, token, "/notes") == 200
    async with api.post("/notes", headers=bearer(token)) as response:
        assert response.status == 403
    # Without either: both challenges.
    async with api.get("/me") as response:
        assert response.status == 401
        assert challenge_of(response).startswith('Bearer realm="aiohttp_guard"')


async def test_a_jwt_client_logging_in_gets_a_cookie_from_the_chain(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    app = api_app(policy_for(provider), CookieTicketPolicy(SECRET, max_age=600))
    client = await serve(aiohttp_client, app)
    token = provider.token("alice")
    async with client.get(
        "/login", params={"user": "alice"}, headers=bearer(token)
    ) as response:
        assert response.status == 200
        assert "AUTH_TKT" in response.cookies


def test_a_policy_moved_to_another_event_loop_fetches_there(
    provider_in_a_thread: DemoProvider,
) -> None:
    """The first loop closed while a fetch was under way (a test's loop, an
    app served again): the next loop fetches at once, not 30 s later."""
    provider = provider_in_a_thread
    policy = policy_for(provider)
    token = provider.token("alice")

    async def give_up_while_fetching() -> None:
        provider.delay = 2.0
        request = make_mocked_request("GET", "/", headers=bearer(token))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(policy.identify(request), 0.2)

    async def identify() -> object:
        provider.delay = 0.0
        request = make_mocked_request("GET", "/", headers=bearer(token))
        return await policy.identify(request)

    asyncio.run(give_up_while_fetching())
    identity = asyncio.run(identify())
    assert identity is not None


async def test_a_sub_application_accepting_the_same_provider_shares_revocations(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """Two services, each with a policy for the same provider: a logout
    everywhere through the parent refuses the token in the sub-application
    too, and both see the token's scopes."""
    parent = api_app(policy_for(provider))
    sub = api_app(policy_for(provider))
    parent.add_subapp("/sub", sub)
    client = await serve(aiohttp_client, parent)
    token = provider.token("alice", scope="notes:read")
    for path in ("/notes", "/sub/notes"):
        assert await status(client, token, path) == 200
    async with client.post("/logout-everywhere", headers=bearer(token)) as response:
        assert response.status == 200
    for path in ("/notes", "/sub/notes"):
        assert await status(client, token, path) == 401


async def test_a_logout_on_one_instance_refuses_the_token_on_another(
    aiohttp_client: AiohttpClient,
    provider: DemoProvider,
    redis_client: Redis,
    redis_prefix: str,
) -> None:
    """Two instances sharing a Redis revocation store, each with its own
    policy for the provider (and its own verified-token cache)."""

    def instance() -> web.Application:
        app = web.Application()
        store = RedisRevocationStore(redis_client, prefix=redis_prefix)
        AuthService(policy_for(provider), revocations=store).setup(app)
        app.add_routes(
            [web.get("/me", me), web.post("/logout-everywhere", logout_everywhere)]
        )
        return app

    first = await serve(aiohttp_client, instance())
    second = await serve(aiohttp_client, instance())
    # A store that starts on an empty Redis refuses what was issued before
    # it started: the token is issued once both run.
    for client in (first, second):
        assert await status(client, "no token yet") == 401
    await asyncio.sleep(1)
    token = provider.token("alice")
    assert await status(first, token) == 200
    assert await status(second, token) == 200
    async with first.post("/logout-everywhere", headers=bearer(token)) as response:
        assert response.status == 200
    for _ in range(200):  # pub/sub carries it within 100 ms
        if await status(second, token) == 401:
            break
        await asyncio.sleep(0.01)
    assert await status(second, token) == 401
    assert await status(first, token) == 401


async def test_provider_tokens_and_bearer_tickets_share_the_header(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """Both in `Authorization: Bearer`: each policy takes its own and lets
    the other's through, in either order."""
    for jwt_first in (True, False):
        tickets = BearerTicketPolicy(SECRET, max_age=600)
        tokens = policy_for(provider)
        chain = (tokens, tickets) if jwt_first else (tickets, tokens)
        client = await serve(aiohttp_client, api_app(*chain))
        ticket = bearer_header(tickets, "robot")["Authorization"].split()[1]
        assert await status(client, ticket) == 200
        assert await status(client, provider.token("alice")) == 200
        forged = provider.token("alice")[:-4] + "AAAA"
        assert await status(client, forged) == 401


async def test_refused_tokens_keep_no_request_alive(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """What a refusal leaves in the policy's memory is its reason, not the
    request (with every header its client sent) it was raised in."""
    client = await serve(aiohttp_client, api_app(policy_for(provider)))
    for n in range(50):
        headers = {**bearer(f"{n:x}.not-a-jwt"), "X-Padding": "x" * 4000}
        async with client.get("/me", headers=headers) as response:
            assert response.status == 401
    gc.collect()
    alive = sum(isinstance(o, web.BaseRequest) for o in gc.get_objects())
    assert alive < 5


async def test_answers_from_the_caches_still_refresh_a_stale_key_set(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """A quiet service whose clients send the same tokens: the key set is
    fetched again on the provider's schedule all the same, so a withdrawn
    key's kept tokens are refused, and a token refused under the old set
    is checked against the new one."""
    policy, clock, client = await on_a_clock(aiohttp_client, provider)
    old = provider.key_for("RS256")
    kept = provider.token("alice", key=old)
    assert await status(client, kept) == 200
    new = provider.add_key("RS256")
    early = provider.token("bob", key=new, headers={"kid": old.kid})  # not yet
    assert await status(client, early) == 401
    provider.remove_key(old.kid)
    provider.keys[old.kid] = attrs.evolve(new, kid=old.kid)  # the kid reused
    clock.now += 301  # the set is stale
    assert await status(client, kept) == 200  # answered, the refresh started
    await policy.key_source.idle()
    assert provider.jwks_requests == 2
    assert await status(client, kept) == 401
    assert await status(client, early) == 200


async def test_a_403_for_a_token_says_insufficient_scope(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """RFC 6750: a token that lacks the scope gets a 403 whose challenge
    says so; a browser's 403 in the same chain carries no bearer challenge."""
    app = api_app(policy_for(provider), CookieTicketPolicy(SECRET, max_age=600))
    client = await serve(aiohttp_client, app)
    reader = provider.token("alice", scope="notes:read")
    async with client.post("/notes", headers=bearer(reader)) as response:
        assert response.status == 403
        assert challenge_of(response) == (
            'Bearer realm="aiohttp_guard", error="insufficient_scope", '
            'error_description="The access token does not allow this"'
        )
    browser = await aiohttp_client(app)
    async with browser.get("/login", params={"user": "bob"}) as response:
        assert response.status == 200
    async with browser.post("/notes") as response:
        assert response.status == 403
        assert "WWW-Authenticate" not in response.headers


async def test_insufficient_scope_only_for_a_403_of_an_accepted_token(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """An error handler hiding resources behind 404s gets no challenge
    that says they exist; a token this request did not get accepted with
    (expired while still kept) gets none on a guard's 403."""

    class Hiding(DefaultErrorHandler):
        def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
            return web.HTTPNotFound()

    @Public()
    async def refused(request: web.Request) -> web.Response:
        context = RequestContext.of(request)
        await context.identity()
        raise context.forbidden("closed today")

    hiding = web.Application()
    AuthService(policy_for(provider), error_handler=Hiding()).setup(hiding)
    hiding.router.add_post("/notes", write_notes)
    client = await serve(aiohttp_client, hiding)
    reader = provider.token("alice", scope="notes:read")
    async with client.post("/notes", headers=bearer(reader)) as response:
        assert response.status == 404
        assert "WWW-Authenticate" not in response.headers

    app = api_app(policy_for(provider, keys=provider.jwk_set(), leeway=0))
    app.router.add_get("/closed", refused)
    client = await serve(aiohttp_client, app)
    token = provider.token("alice", lifetime=1)
    async with client.get("/closed", headers=bearer(token)) as response:
        assert response.status == 403
        assert "insufficient_scope" in challenge_of(response)
    expires = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    await asyncio.sleep(expires - time.time() + 0.05)
    async with client.get("/closed", headers=bearer(token)) as response:
        assert response.status == 403
        assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("realm", ['a"b', "a\\\\b", "a\r\nSet-Cookie: x=1", "é"])
def test_a_realm_that_cannot_stand_in_a_header_is_refused(
    provider: DemoProvider, realm: str
) -> None:
    with pytest.raises(ValueError, match="realm"):
        policy_for(provider, realm=realm)
    with pytest.raises(ValueError, match="realm"):
        BearerTicketPolicy(SECRET, 600, realm=realm)


async def test_a_revocation_store_that_does_not_answer_refuses_tokens(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    """Fails closed, as for tickets: a valid token, even one kept as
    verified, is a 503 while revocations cannot be checked, never a 200."""
    store = SwitchableEnds()
    app = web.Application()
    AuthService(policy_for(provider), revocations=store).setup(app)
    app.router.add_get("/me", me)
    client = await serve(aiohttp_client, app)
    token = provider.token("alice")
    assert await status(client, token) == 200
    store.down = True
    assert await status(client, token) == 503
    store.down = False
    assert await status(client, token) == 200
