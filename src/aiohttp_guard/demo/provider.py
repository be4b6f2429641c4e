"""A small identity provider, for the demo, the docs, the tests and the
benchmarks: OpenID Connect discovery, a JWK set and signed access tokens.

    python -m aiohttp_guard.demo.provider [--port 8081]

serves it on 127.0.0.1; `POST /token` with form fields `sub` and `scope`
answers a token.

It stands in for Keycloak, Auth0 or Dex on this machine. It signs with RSA,
EC (P-256) and Ed25519 keys made at start, can rotate and withdraw keys,
change the `Cache-Control` of its key set, and stop answering, so that a
`JWTPolicy` can be tried against everything a real provider does. It is a
stand-in only: it issues whatever token it is asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = ["Algorithm", "DemoProvider", "SigningKey", "main"]

Algorithm: TypeAlias = Literal["RS256", "ES256", "EdDSA"]
_PrivateKey: TypeAlias = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
)

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
JWKS_PATH: Final = "/jwks"
TOKEN_PATH: Final = "/token"  # noqa: S105 - a path, not a secret


@attrs.frozen
class SigningKey:
    """One of the provider's keys: its id, algorithm and private half."""

    kid: str
    algorithm: Algorithm
    private: _PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK, as the provider publishes it."""
        jwk: dict[str, Any] = json.loads(
            jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.private.public_key())
        )
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}


def _new_private_key(algorithm: Algorithm) -> _PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


class DemoProvider:
    """An identity provider on loopback: `app()` serves its discovery
    document and JWK set; `token()` signs access tokens.

    Args:
        issuer: Its issuer identifier: the URL it is served at. Set it once
            the server's address is known, before tokens are made.
        audience: The `aud` of its tokens unless told otherwise.
        algorithms: One key is made per algorithm at start.
    """

    def __init__(
        self,
        issuer: str = "http://127.0.0.1:8081",
        *,
        audience: str = "demo-api",
        algorithms: tuple[Algorithm, ...] = ("RS256", "ES256", "EdDSA"),
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        #: The published keys, by id; `token()` signs with any of them.
        self.keys: dict[str, SigningKey] = {}
        for algorithm in algorithms:
            self.add_key(algorithm)
        #: The key set's `Cache-Control` value; None sends none.
        self.cache_control: str | None = "max-age=300"
        #: False: every request gets a 503, as from a provider that is down.
        self.up = True
        #: Seconds each answer of discovery and the key set waits first.
        self.delay = 0.0
        #: How many times the key set and the discovery document were read.
        self.jwks_requests = 0
        self.discovery_requests = 0

    def add_key(self, algorithm: Algorithm = "RS256") -> SigningKey:
        """Make a key and publish it (a rotation's first step)."""
        key = SigningKey(
            f"{algorithm.lower()}-{secrets.token_hex(4)}",
            algorithm,
            _new_private_key(algorithm),
        )
        self.keys[key.kid] = key
        return key

    def remove_key(self, kid: str) -> None:
        """Stop publishing a key (a rotation's last step)."""
        del self.keys[kid]

    def key_for(self, algorithm: Algorithm) -> SigningKey:
        """The newest published key for `algorithm`."""
        return next(k for k in reversed(self.keys.values()) if k.algorithm == algorithm)

    def jwk_set(self) -> dict[str, Any]:
        """The public keys, as published at `JWKS_PATH`."""
        return {"keys": [key.public_jwk() for key in self.keys.values()]}

    def token(
        self,
        sub: str,
        *,
        scope: str | None = None,
        algorithm: Algorithm = "RS256",
        key: SigningKey | None = None,
        lifetime: float = 300,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed access token for `sub`, valid for `lifetime` seconds;
        `claims` and `headers` add to or replace what it carries (a header
        given as None is left out)."""
        key = key or self.key_for(algorithm)
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
            "jti": secrets.token_hex(8),
        }
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims or {})
        return jwt.encode(
            payload,
            key.private,
            algorithm=key.algorithm,
            headers={
                name: value
                for name, value in {"kid": key.kid, **(headers or {})}.items()
                if value is not None  # None leaves a header out
            },
        )

    def app(self) -> web.Application:
        """The provider's web app: discovery, the key set, and a token for
        whoever asks (`POST /token`, form fields `sub` and `scope`)."""
        app = web.Application()
        app.router.add_get(DISCOVERY_PATH, self._discovery)
        app.router.add_get(JWKS_PATH, self._jwks)
        app.router.add_post(TOKEN_PATH, self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        sub, scope = form.get("sub"), form.get("scope")
        if not isinstance(sub, str) or not sub or not isinstance(scope, str | None):
            raise web.HTTPBadRequest(text="send the form fields sub and scope")
        return web.Response(text=self.token(sub, scope=scope))

    async def _discovery(self, request: web.Request) -> web.Response:
        self.discovery_requests += 1
        await asyncio.sleep(self.delay)
        if not self.up:
            raise web.HTTPServiceUnavailable()
        return web.json_response(
            {
                "issuer": self.issuer,
                "jwks_uri": self.issuer.rstrip("/") + JWKS_PATH,
                "id_token_signing_alg_values_supported": sorted(
                    {k.algorithm for k in self.keys.values()}
                ),
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_requests += 1
        await asyncio.sleep(self.delay)
        if not self.up:
            raise web.HTTPServiceUnavailable()
        response = web.json_response(self.jwk_set())
        if self.cache_control is not None:
            response.headers["Cache-Control"] = self.cache_control
        return response


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aiohttp_guard.demo.provider",
        description="Serve a stand-in identity provider on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8081, help="default: 8081")
    port = parser.parse_args(argv).port
    provider = DemoProvider(f"http://127.0.0.1:{port}")
    print(f"identity provider on {provider.issuer}/ (POST /token)", flush=True)
    web.run_app(provider.app(), host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
