"""A provider's JWK set, made ready to verify tokens: for each key id and
algorithm, the one key PyJWT verifies with.

A key serves only the algorithms its type can sign with (RSA keys RS*/PS*,
P-256 keys ES256, Ed25519 keys EdDSA...), narrowed by its own `alg` and by
the policy's allow-list. Keys that cannot verify are left out rather than
trusted: shared secrets (`oct`: a published secret is no secret), private
keys, keys for encryption, and keys PyJWT cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, cast

import attrs
import jwt

__all__ = ["ALGORITHM_KEYS", "MAX_KEYS", "KeyIndex", "index_keys"]

#: The algorithms a provider's published keys can verify, with the key type
#: and curves each needs.
ALGORITHM_KEYS: Final[Mapping[str, tuple[str, frozenset[str] | None]]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}

#: Keys read from one set; providers publish a handful.
MAX_KEYS: Final = 100

# Members of a JWK that only a private key has.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@attrs.frozen
class KeyIndex:
    """The keys of one JWK set, by key id and algorithm."""

    #: (kid, algorithm) -> key; kid None for keys published without one.
    keys: Mapping[tuple[str | None, str], jwt.PyJWK]
    #: algorithm -> the set's only key for it, for tokens that name no key.
    only: Mapping[str, jwt.PyJWK]
    #: Every key id the set names, usable or not.
    key_ids: frozenset[str]
    #: Why keys were left out, one line each, for the log.
    skipped: tuple[str, ...]
    #: What the set says, to tell a changed set from the same one again.
    fingerprint: frozenset[str]

    def find(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        """The key to verify a token naming `kid` (or none) and `algorithm`."""
        if kid is None:
            return self.only.get(algorithm)
        return self.keys.get((kid, algorithm))


def index_keys(document: object, algorithms: frozenset[str]) -> KeyIndex:
    """The usable keys of `document` (a JWK set: `{"keys": [...]}`) for
    `algorithms`; raises ValueError when it is not a JWK set."""
    if not isinstance(document, dict):
        raise ValueError("not a JWK set: not an object")
    members = cast("dict[str, object]", document).get("keys")
    if not isinstance(members, list):
        raise ValueError('not a JWK set: no "keys" list')
    entries = cast("list[object]", members)
    keys: dict[tuple[str | None, str], jwt.PyJWK] = {}
    per_algorithm: dict[str, list[jwt.PyJWK]] = {}
    key_ids: set[str] = set()
    skipped: list[str] = []
    fingerprint: set[str] = set()
    if len(entries) > MAX_KEYS:
        skipped.append(f"{len(entries) - MAX_KEYS} keys past the first {MAX_KEYS}")
    for position, member in enumerate(entries[:MAX_KEYS]):
        if not isinstance(member, dict):
            skipped.append(f"key {position}: not an object")
            continue
        entry = cast("dict[str, Any]", member)
        kid = entry.get("kid")
        if kid is not None and not isinstance(kid, str):
            skipped.append(f"key {position}: its kid is not a string")
            continue
        if kid is not None:
            key_ids.add(kid)
        fingerprint.add(json.dumps(entry, sort_keys=True))
        usable, why = _algorithms_of(entry, algorithms)
        if why:
            skipped.append(f"key {position} ({kid!r}): {why}")
        for algorithm in usable:
            if (kid, algorithm) in keys:
                continue
            try:
                key = jwt.PyJWK(entry, algorithm)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
                skipped.append(f"key {position} ({kid!r}): unreadable ({exc})")
                break
            too_short = key.Algorithm.check_key_length(key.key)
            if too_short:  # an RSA key under 2048 bits
                skipped.append(f"key {position} ({kid!r}): {too_short}")
                break
            keys[kid, algorithm] = key
            per_algorithm.setdefault(algorithm, []).append(key)
    only = {alg: found[0] for alg, found in per_algorithm.items() if len(found) == 1}
    return KeyIndex(
        keys, only, frozenset(key_ids), tuple(skipped), frozenset(fingerprint)
    )


def _algorithms_of(
    entry: Mapping[str, Any], algorithms: frozenset[str]
) -> tuple[list[str], str]:
    """The allowed algorithms `entry` can verify, and why none when none."""
    kty, crv = entry.get("kty"), entry.get("crv")
    if kty == "oct":
        return [], "a shared secret, never used to verify"
    if _PRIVATE_MEMBERS.intersection(entry):
        return [], "private key material, never used"
    use = entry.get("use")
    if use is not None and use != "sig":
        return [], f"its use is {use!r}, not 'sig'"
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return [], "its key_ops do not include 'verify'"
    fitting = [alg for alg in sorted(algorithms) if _fits(alg, kty, crv)]
    named = entry.get("alg")
    if named is not None:
        fitting = [alg for alg in fitting if alg == named]
    if not fitting:
        return [], "fits none of the allowed algorithms"
    return fitting, ""


def _fits(algorithm: str, kty: object, crv: object) -> bool:
    """Whether a key of type `kty` on curve `crv` can verify `algorithm`."""
    key_type, curves = ALGORITHM_KEYS[algorithm]
    if kty != key_type:
        return False
    return curves is None or (isinstance(crv, str) and crv in curves)
