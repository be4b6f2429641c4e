"""Access tokens an identity provider issues: JWTs in `Authorization: Bearer`,
verified against the provider's published keys (JWKS / OpenID Connect)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final, NoReturn, cast

import aiohttp
import attrs
import jwt
from aiohttp import web

from .._base64url import decode_b64url
from .._durations import seconds
from .._fifo_cache import FifoCache
from ..identity import ClaimValue, Identity
from ..request_state import RequestState
from ._jwks import KeySource, check_fetch_url
from ._jwt_keys import ALGORITHM_KEYS, KeyIndex, index_keys
from .base import AbstractAuthentication
from .bearer import bearer_token, checked_realm

__all__ = ["JWTPolicy"]

log = logging.getLogger("aiohttp_guard")

_DEFAULT_ALGORITHMS: Final = ("RS256", "ES256", "EdDSA")
#: Verified tokens kept, by their text.
_VERIFIED_CACHE_SIZE: Final = 4096
#: Token headers read, by their text.
_HEADER_CACHE_SIZE: Final = 64
#: Refused token texts kept, and the longest kept.
_REFUSED_CACHE_SIZE: Final = 1024
_MAX_REFUSED_LENGTH: Final = 4096
#: The longest user id taken from a token.
_MAX_USER_ID: Final = 1024


@attrs.frozen
class _Verified:
    identity: Identity
    #: Until when it is valid, in seconds since the epoch: `exp` + leeway.
    until: float
    #: The key set that verified it: a changed set verifies it again.
    keys: KeyIndex


class _RefusedTokenError(Exception):
    """Why a token was refused: RFC 6750's error description, fixed text
    that never quotes the token."""

    def __init__(self, description: str, *, lasting: bool = True) -> None:
        super().__init__(description)
        self.description = description
        #: Whether the same text is refused again while the keys stay the
        #: same; False when a fetch or the clock may change the answer.
        self.lasting = lasting


@attrs.frozen
class _Refusal:
    """Why a request's token was refused, kept as the request's note for
    the challenge and for the token's text: a value, never the raised
    error, whose traceback would keep the request alive with it."""

    description: str


@attrs.frozen
class _Accepted:
    """The note of a request this policy's token identified."""


_ACCEPTED: Final = _Accepted()


@attrs.frozen
class _Refused:
    refusal: _Refusal
    #: The key set it was refused under: a changed set checks it again.
    keys: KeyIndex | None


class JWTPolicy(AbstractAuthentication):
    """Access tokens from your identity provider (Keycloak, Auth0, Okta,
    Entra ID, Google, Dex...), sent as `Authorization: Bearer <jwt>`.

    Each token is verified by PyJWT against the provider's published keys:
    signature, `iss`, `aud`, `exp`, `nbf` and `iat` (with `leeway`), the
    algorithm in `algorithms` and fitting the key's type. The identity is
    the token's subject, its scopes become `Scope` principals, and its other
    claims are on `Identity.claims`. A token verified once is kept by its
    text until it expires. The provider issues the tokens, so `remember`
    raises a `TypeError` and `forget` does nothing; `logout_everywhere`
    refuses a user's tokens issued (`iat`) before it.

    Args:
        issuer: The provider's issuer identifier, exactly as tokens carry it
            in `iss`; with neither `jwks_url` nor `keys`, its OpenID Connect
            discovery document says where the keys are.
        audience: What tokens must name in `aud` (one of several): your
            API's identifier at the provider.
        jwks_url: Where the provider publishes its keys (https, or http on
            a loopback address).
        keys: A fixed JWK set (`{"keys": [...]}`), for tests and setups that
            cannot reach the provider: nothing is fetched.
        algorithms: The signing algorithms accepted; asymmetric ones only.
        leeway: Tolerance for clocks that disagree, in seconds.
        scope_claim: The claim holding the scopes: a space-separated string
            or a list. With "scope" (the default), a token without it is
            read for "scp" too.
        user_id_claim: The claim holding the user id.
        max_token_life: The longest `exp - iat` accepted; revocations are
            kept that long (plus `leeway`).
        max_token_size: Longer tokens are refused before they are parsed.
        realm: Names the protected space in challenges.
        client_session: The aiohttp session keys are fetched with (a proxy,
            a private certificate authority); None opens one per fetch.
        fetch_timeout: Seconds one fetch of keys may take, discovery
            included.
        refetch_interval: Seconds between two fetches outside the
            provider's schedule (a token naming an unknown key, a fetch
            that failed).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Sequence[str],
        jwks_url: str | None = None,
        keys: Mapping[str, Any] | None = None,
        algorithms: Sequence[str] = _DEFAULT_ALGORITHMS,
        leeway: float | timedelta = 30,
        scope_claim: str = "scope",
        user_id_claim: str = "sub",
        max_token_life: float | timedelta = timedelta(days=1),
        max_token_size: int = 8192,
        realm: str = "aiohttp_guard",
        client_session: aiohttp.ClientSession | None = None,
        fetch_timeout: float = 5.0,
        refetch_interval: float = 30.0,
    ) -> None:
        if not issuer:
            raise ValueError("issuer must be the provider's issuer identifier")
        self.issuer = issuer
        self.audience: tuple[str, ...] = (
            (audience,) if isinstance(audience, str) else tuple(audience)
        )
        if not self.audience or not all(self.audience):
            raise ValueError("audience must name your API: one string or several")
        self.algorithms = _allowed(algorithms)
        self.leeway = seconds(leeway, "leeway")
        self.max_token_life = seconds(max_token_life, "max_token_life")
        if fetch_timeout <= 0:
            raise ValueError("fetch_timeout must be more than 0 seconds")
        if refetch_interval < 1:
            raise ValueError(
                "refetch_interval must be at least a second: it is what keeps "
                "a flood of made-up key ids from reaching the provider"
            )
        if max_token_size < 64:
            raise ValueError("max_token_size must be at least 64")
        self.max_token_size = max_token_size
        self.realm = checked_realm(realm)
        self.scope_claim = scope_claim
        self.user_id_claim = user_id_claim
        static = None
        if keys is not None:
            if jwks_url is not None:
                raise ValueError("give keys or jwks_url, not both")
            static = index_keys(dict(keys), self.algorithms)
            if not static.keys:
                raise ValueError(
                    "keys holds no key usable with algorithms "
                    f"{sorted(self.algorithms)}: {'; '.join(static.skipped[:5])}"
                )
        elif jwks_url is not None:
            check_fetch_url(jwks_url, "jwks_url")
        else:
            check_fetch_url(issuer, "issuer (read for OpenID Connect discovery)")
        #: Where the keys come from.
        self.key_source = KeySource(
            issuer=issuer,
            jwks_url=jwks_url,
            static=static,
            algorithms=self.algorithms,
            client_session=client_session,
            timeout=fetch_timeout,
            refetch_interval=refetch_interval,
        )
        self._verified: FifoCache[str, _Verified] = FifoCache(_VERIFIED_CACHE_SIZE)
        # Texts refused for good (a bad signature, an expired token...), so
        # that a client sending one again and again costs a look-up, not a
        # signature check: a tampered token was served at 0.16x bare
        # aiohttp before (benchmarks.http "tampered", 2026-12-01). Apart
        # from the verified ones, so that garbage evicts only garbage.
        self._refused: FifoCache[str, _Refused] = FifoCache(_REFUSED_CACHE_SIZE)
        self._headers: FifoCache[str, tuple[object, object]] = FifoCache(
            _HEADER_CACHE_SIZE
        )
        self._decode_options: dict[str, Any] = {
            "require": ["exp", "iat", "iss", "aud", user_id_claim],
            "enforce_minimum_key_length": True,
        }

    def __repr__(self) -> str:
        return f"JWTPolicy(issuer={self.issuer!r}, audience={list(self.audience)!r})"

    @property
    def issues_credentials(self) -> bool:
        """False: the provider issues the tokens."""
        return False

    @property
    def max_ticket_age(self) -> float:
        """`max_token_life` plus `leeway`: no token issued now is accepted
        later than that."""
        return self.max_token_life + self.leeway

    def credential_ids(self) -> frozenset[object]:
        """The issuer: services that accept its tokens share revocations."""
        return frozenset((("jwt", self.issuer),))

    async def identify(self, request: web.Request) -> Identity | None:
        token = bearer_token(request)
        if not token:  # none sent, or `Bearer` alone
            return None
        # The keys in use, a stale set's refresh started: kept tokens are
        # checked again once it brings another set.
        keys = self.key_source.current()
        known = self._verified.get(token)
        if known is not None and known.keys is keys and time.time() < known.until:
            RequestState.current(request).set_note(self, _ACCEPTED)
            return known.identity
        refused = self._refused.get(token)
        if refused is not None and refused.keys is keys:
            RequestState.current(request).set_note(self, refused.refusal)
            return None
        try:
            verified = await self._verify(token)
        except _RefusedTokenError as error:
            refusal = _Refusal(error.description)
            RequestState.current(request).set_note(self, refusal)
            log.debug("rejected bearer JWT: %s", refusal.description)
            if error.lasting and len(token) <= _MAX_REFUSED_LENGTH:
                self._refused.pop(token, None)
                self._refused.put(token, _Refused(refusal, keys))
            return None
        self._verified.pop(token, None)
        self._verified.put(token, verified)
        RequestState.current(request).set_note(self, _ACCEPTED)
        return verified.identity

    async def get(self, request: web.Request) -> str | None:
        identity = await self.identify(request)
        return None if identity is None else identity.user_id

    async def remember(self, request: web.Request, user_id: str) -> NoReturn:
        raise TypeError(
            "JWTPolicy cannot log a user in: the identity provider issues its "
            "tokens. Log users in at the provider, or put a ticket policy "
            "beside this one (AuthService([JWTPolicy(...), CookieTicketPolicy(...)])"
            ", whose logins go to the ticket policy)"
        )

    async def forget(self, request: web.Request) -> None:
        """Nothing to clear: the client holds the provider's token."""

    def challenge(self, request: web.Request) -> str | None:
        if not bearer_token(request):  # RFC 6750: no credentials, no error
            return f'Bearer realm="{self.realm}"'
        refused = RequestState.note_of(request, self, _Refusal)
        description = (
            "The access token is not accepted"
            if refused is None
            else refused.description
        )
        return (
            f'Bearer realm="{self.realm}", error="invalid_token", '
            f'error_description="{description}"'
        )

    def forbidden_challenge(self, request: web.Request) -> str | None:
        """RFC 6750's `insufficient_scope`, when this policy's token
        identified the request: the client may ask the provider for a token
        with more scopes."""
        if RequestState.note_of(request, self, _Accepted) is None:
            return None
        return (
            f'Bearer realm="{self.realm}", error="insufficient_scope", '
            'error_description="The access token does not allow this"'
        )

    # -- verification ------------------------------------------------------

    async def _verify(self, token: str) -> _Verified:
        """`token` verified, or a `_RefusedTokenError` saying why not."""
        if len(token) > self.max_token_size:
            raise _RefusedTokenError("The access token is too large")
        if token.count(".") != 2:
            raise _RefusedTokenError("The access token is not a signed JWT")
        header = token.partition(".")[0]
        choice = self._headers.get(header)
        if choice is None:
            # A provider signs its tokens under a few headers (one per key):
            # read each once, 3 of the 14 us this policy adds to PyJWT's
            # verification (benchmarks.micro "JWT verify", 2026-12-01).
            choice = self._headers.put(header, _key_choice(header))
        algorithm, kid = choice
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise _RefusedTokenError("The access token's algorithm is not accepted")
        if kid is not None and not isinstance(kid, str):
            raise _RefusedTokenError("The access token is malformed")
        index = await self.key_source.keys()
        if index is not None and kid is not None and kid not in index.key_ids:
            index = await self.key_source.refetch()
        if index is None:
            raise _RefusedTokenError(
                "The provider's keys are not available", lasting=False
            )
        key = index.find(kid, algorithm)
        if key is None:
            raise _RefusedTokenError(
                "The access token's signing key is unknown", lasting=False
            )
        identity, expires = self._identity(self._decode(token, key, algorithm))
        return _Verified(identity, expires + self.leeway, index)

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=list(self.audience),
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._decode_options,  # type: ignore[arg-type]
            )
        except jwt.exceptions.ExpiredSignatureError:
            description = "The access token expired"
        except jwt.exceptions.ImmatureSignatureError:
            raise _RefusedTokenError(
                "The access token is not valid yet", lasting=False
            ) from None
        except jwt.exceptions.InvalidAudienceError:
            description = "The access token is for another audience"
        except jwt.exceptions.InvalidIssuerError:
            description = "The access token is from another issuer"
        except jwt.exceptions.MissingRequiredClaimError:
            description = "The access token lacks a required claim"
        except jwt.exceptions.InvalidSubjectError:
            description = "The access token's subject is not usable"
        except jwt.exceptions.InvalidSignatureError:
            description = "The access token's signature is invalid"
        except Exception:  # any other failure fails closed
            description = "The access token is malformed"
        raise _RefusedTokenError(description)

    def _identity(self, claims: dict[str, Any]) -> tuple[Identity, float]:
        """The identity `claims` give, and when they expire (`exp`)."""
        user_id = claims.get(self.user_id_claim)
        if not isinstance(user_id, str) or not user_id or len(user_id) > _MAX_USER_ID:
            raise _RefusedTokenError("The access token's subject is not usable")
        issued, expires = _number(claims["iat"]), _number(claims["exp"])
        if issued is None or expires is None:
            raise _RefusedTokenError("The access token is malformed")
        if expires - issued > self.max_token_life:
            raise _RefusedTokenError(
                "The access token lives longer than this server accepts"
            )
        auth_time = _number(claims.get("auth_time"))
        try:
            frozen = _frozen_claims(claims)
        except RecursionError:  # arrays in arrays, deeper than Python goes
            raise _RefusedTokenError("The access token is malformed") from None
        identity = Identity(
            user_id,
            login_ms=None if auth_time is None else int(auth_time * 1000),
            # Never later than now: an `iat` the leeway let through from a
            # provider's clock that runs ahead must not outlast a
            # `logout_everywhere` made after this verification.
            issued_ms=int(min(issued, time.time()) * 1000),
            scopes=self._scopes(claims),
            claims=frozen,
            sessionless=True,
        )
        return identity, expires

    def _scopes(self, claims: Mapping[str, Any]) -> frozenset[str]:
        value = claims.get(self.scope_claim)
        if value is None and self.scope_claim == "scope":
            value = claims.get("scp")
        if value is None:
            return frozenset()
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list):
            names = cast("list[object]", value)
            if all(isinstance(name, str) for name in names):
                return frozenset(cast("list[str]", names)) - {""}
        raise _RefusedTokenError("The access token's scopes are malformed")


def _key_choice(segment: str) -> tuple[object, object]:
    """The `alg` and `kid` of a token's header (its first `segment`), read
    only to pick the key: PyJWT reads the whole token again, strictly, to
    verify it. Read here, not by `jwt.get_unverified_header`, which checks
    every character of the payload and signature too: 35-50 us of a
    140-180 us verification (benchmarks.micro "JWT verify", 2026-12-01)."""
    try:
        header = json.loads(decode_b64url(segment))
    except (ValueError, UnicodeError, RecursionError):
        raise _RefusedTokenError("The access token is malformed") from None
    if not isinstance(header, dict):
        raise _RefusedTokenError("The access token is malformed")
    fields = cast("dict[str, object]", header)
    return fields.get("alg"), fields.get("kid")


def _allowed(algorithms: Sequence[str]) -> frozenset[str]:
    if isinstance(algorithms, str):
        raise TypeError('algorithms is a sequence of names, such as ("RS256",)')
    allowed = frozenset(algorithms)
    if not allowed:
        raise ValueError("algorithms must name at least one algorithm")
    for name in allowed:
        if name not in ALGORITHM_KEYS:
            raise ValueError(
                f"algorithm {name!r} is not accepted: a provider's tokens are "
                "verified with its published public keys, so only "
                f"{', '.join(ALGORITHM_KEYS)} can be allowed ('none' and "
                "shared-secret HS* algorithms never are)"
            )
    return allowed


def _number(value: object) -> float | None:
    """`value` as a finite number of seconds, or None: an int too large for
    a float (JSON allows any) is None, not an `OverflowError`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not -1e13 < value < 1e13:  # also NaN and the infinities
        return None
    return float(value)


def _frozen_claims(claims: Mapping[str, Any]) -> Mapping[str, ClaimValue]:
    return MappingProxyType({name: _frozen(value) for name, value in claims.items()})


def _frozen(value: object) -> ClaimValue:
    """`value`, a JSON value, made read-only: a verified token's claims are
    shared by every request that sends it."""
    if isinstance(value, str | int | float | bool) or value is None:  # most
        return value
    if isinstance(value, list):
        return tuple(_frozen(item) for item in cast("list[object]", value))
    if isinstance(value, dict):
        members = cast("dict[str, object]", value)
        return MappingProxyType({str(k): _frozen(v) for k, v in members.items()})
    return repr(value)
