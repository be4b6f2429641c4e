"""Properties of what `JWTPolicy` reads from the provider and the client: a
JWK set becomes only keys that can verify, `Cache-Control` is read without
surprises, and no header or token text identifies anyone but a genuine
token's subject, or raises."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from aiohttp_guard import JWTPolicy
from aiohttp_guard._cache_control import max_age
from aiohttp_guard.demo.provider import DemoProvider
from aiohttp_guard.policies._jwt_keys import ALGORITHM_KEYS, MAX_KEYS, index_keys

PROVIDER = DemoProvider("https://idp.example")
ALL = frozenset(ALGORITHM_KEYS)
POLICY = JWTPolicy(issuer=PROVIDER.issuer, audience="demo-api", keys=PROVIDER.jwk_set())
GENUINE = {
    algorithm: PROVIDER.token("alice", algorithm=algorithm, lifetime=86000)
    for algorithm in ("RS256", "ES256", "EdDSA")
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)
jwk_members = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.sampled_from(["RSA", "EC", "OKP", "oct", "x"]) | json_values,
        "crv": st.sampled_from(["P-256", "P-384", "Ed25519", "X25519"]) | json_values,
        "alg": st.sampled_from([*ALGORITHM_KEYS, "HS256", "none"]) | json_values,
        "kid": st.text(max_size=5) | json_values,
        "use": st.sampled_from(["sig", "enc"]) | json_values,
        "key_ops": st.lists(st.sampled_from(["verify", "sign", "encrypt"]))
        | json_values,
        "n": st.text(max_size=12) | json_values,
        "e": st.sampled_from(["AQAB"]) | json_values,
        "x": st.text(max_size=12) | json_values,
        "y": st.text(max_size=12) | json_values,
        "d": st.text(max_size=4),
        "k": st.text(max_size=4),
    },
)


# -- JWK sets --------------------------------------------------------------------


@given(document=json_values | st.fixed_dictionaries({"keys": st.lists(jwk_members)}))
def test_any_document_gives_a_key_index_or_a_value_error(document: Any) -> None:
    try:
        index = index_keys(document, ALL)
    except ValueError:
        return
    for (kid, algorithm), key in index.keys.items():
        assert algorithm in ALL
        assert key.algorithm_name == algorithm
        assert kid is None or kid in index.key_ids


@given(
    genuine=st.lists(st.sampled_from(sorted(PROVIDER.keys)), unique=True),
    junk=st.lists(jwk_members, max_size=5),
)
def test_usable_keys_are_kept_whatever_else_the_set_holds(
    genuine: list[str], junk: list[dict[str, Any]]
) -> None:
    published = [PROVIDER.keys[kid].public_jwk() for kid in genuine]
    index = index_keys({"keys": published + junk}, ALL)
    for kid in genuine:
        key = PROVIDER.keys[kid]
        assert index.find(kid, key.algorithm) is not None


def test_keys_that_cannot_verify_are_left_out() -> None:
    rsa_key = PROVIDER.key_for("RS256").public_jwk()
    ec_key = PROVIDER.key_for("ES256").public_jwk()
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the key refused
    weak_jwk = json.loads(RSAAlgorithm.to_jwk(weak.public_key()))
    private_jwk = json.loads(RSAAlgorithm.to_jwk(weak))
    published = [
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0", "kid": "secret"},
        {**rsa_key, "kid": "enc", "use": "enc"},
        {**rsa_key, "kid": "ops", "key_ops": ["sign"]},
        {**weak_jwk, "kid": "weak"},
        {**private_jwk, "kid": "private"},
        {**ec_key, "kid": "ec-as-rsa", "alg": "RS256"},
        {**rsa_key, "kid": 7},
        "not a key",
    ]
    index = index_keys({"keys": published}, ALL)
    assert index.keys == {}
    assert len(index.skipped) == len(published)
    assert {"secret", "enc", "ops", "weak", "private", "ec-as-rsa"} <= index.key_ids


def test_a_key_serves_only_its_types_algorithms() -> None:
    rsa_key = {**PROVIDER.key_for("RS256").public_jwk(), "kid": "r"}
    del rsa_key["alg"]
    ec_key = {**PROVIDER.key_for("ES256").public_jwk(), "kid": "e"}
    del ec_key["alg"]
    index = index_keys({"keys": [rsa_key, ec_key]}, ALL)
    assert {alg for kid, alg in index.keys if kid == "r"} == {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
    }
    assert {alg for kid, alg in index.keys if kid == "e"} == {"ES256"}
    # Narrowed by the allow-list, and by the key's own alg.
    narrow = index_keys({"keys": [rsa_key]}, frozenset({"RS256", "EdDSA"}))
    assert set(narrow.keys) == {("r", "RS256")}
    pinned = index_keys({"keys": [{**rsa_key, "alg": "PS256"}]}, ALL)
    assert set(pinned.keys) == {("r", "PS256")}


def test_a_set_is_read_up_to_its_first_hundred_keys() -> None:
    key = PROVIDER.key_for("EdDSA").public_jwk()
    index = index_keys({"keys": [{**key, "kid": str(n)} for n in range(150)]}, ALL)
    assert len(index.keys) == MAX_KEYS
    assert "50 keys past" in index.skipped[0]


@pytest.mark.parametrize("document", [[], {}, {"keys": {}}, {"keys": "x"}, None, 3])
def test_a_document_that_is_no_jwk_set_is_a_value_error(document: object) -> None:
    with pytest.raises(ValueError, match="not a JWK set"):
        index_keys(document, ALL)


# -- Cache-Control --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("public", None),
        ("max-age=600", 600),
        ("public, max-age=600, must-revalidate", 600),
        ('max-age="60"', 60),
        ("MAX-AGE=60", 60),
        ("max-age=600, max-age=30", 30),
        ("no-cache", 0),
        ("max-age=600, no-store", 0),
        ("max-age=-5", None),
        ("max-age=1e3", None),
        ("max-age=٣", None),
        ("max-age=99999999999999999", None),
    ],
)
def test_cache_control(header: str | None, seconds: int | None) -> None:
    assert max_age(header) == seconds


@given(st.text(alphabet=string.printable + "٣é", max_size=60))
def test_cache_control_never_raises(header: str) -> None:
    seconds = max_age(header)
    assert seconds is None or 0 <= seconds < 10**12


# -- what clients send ----------------------------------------------------------

header_text = st.text(
    alphabet=st.sampled_from(string.printable.strip("\r\n\x0b\x0c") + "éÿ\t"),
    max_size=300,
)
token_alphabet = string.ascii_letters + string.digits + "-_.="


async def identify(authorization: str) -> Any:
    request = make_mocked_request("GET", "/", headers={"Authorization": authorization})
    identity = await POLICY.identify(request)
    challenge = POLICY.challenge(request)
    assert challenge is not None
    assert challenge.count('"') in (2, 6)  # realm, error, description
    return identity


@settings(max_examples=300)
@given(authorization=header_text)
async def test_any_authorization_header_is_no_identity(authorization: str) -> None:
    assert await identify(authorization) is None


@settings(max_examples=300)
@given(
    algorithm=st.sampled_from(sorted(GENUINE)),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(token_alphabet),
)
async def test_a_changed_token_identifies_nobody_else(
    algorithm: str, position: int, replacement: str
) -> None:
    genuine = GENUINE[algorithm]
    position %= len(genuine)
    changed = genuine[:position] + replacement + genuine[position + 1 :]
    identity = await identify(f"Bearer {changed}")
    if identity is not None:
        # Only a change that decodes to the same bytes (a base64 character's
        # unused low bits) leaves the token valid, and its subject the same.
        assert identity.user_id == "alice"
        assert changed.split(".")[:2] == genuine.split(".")[:2] or changed == genuine


@settings(max_examples=200)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jku"]), json_values
    ),
    payload=st.dictionaries(
        st.sampled_from(["iss", "aud", "sub", "exp", "iat", "nbf", "scope", "scp"]),
        json_values,
    ),
    signature=st.text(alphabet=token_alphabet, max_size=90),
)
async def test_made_up_tokens_of_any_shape_are_refused(
    header: dict[str, Any], payload: dict[str, Any], signature: str
) -> None:
    def segment(value: object) -> str:
        import base64  # noqa: PLC0415

        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    token = f"{segment(header)}.{segment(payload)}.{signature}"
    assert await identify(f"Bearer {token}") is None


async def test_the_genuine_tokens_do_identify() -> None:
    for token in GENUINE.values():
        identity = await identify(f"Bearer {token}")
        assert identity is not None
        assert identity.user_id == "alice"
