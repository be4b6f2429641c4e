"""Typing contract of JWTPolicy, Scope and an identity's claims (checked by
mypy and pyright, never run)."""

# A `# type: ignore` that pyright finds nothing to ignore is a failure too.
# pyright: reportUnnecessaryTypeIgnoreComment=error

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, assert_type

from aiohttp import web

from aiohttp_guard import (
    ACL,
    AbstractAuthentication,
    Allow,
    AuthService,
    ClaimValue,
    CookieTicketPolicy,
    Identity,
    JWTPolicy,
    Scope,
)

Perm = Literal["read", "write"]

policy = JWTPolicy(issuer="https://idp.example", audience="notes-api")
assert_type(policy, JWTPolicy)
_: AbstractAuthentication = policy
AuthService([policy, CookieTicketPolicy(b"k" * 32, 600)])
JWTPolicy(issuer="https://idp.example", audience=["a", "b"], algorithms=("EdDSA",))

# Issuer and audience are keyword-only and required: no provider is assumed.
JWTPolicy("https://idp.example", "notes-api")  # type: ignore[call-arg]
JWTPolicy(issuer="https://idp.example")  # type: ignore[call-arg]

# A scope is a principal ACL entries name, beside groups and users.
notes: ACL[Perm] = ACL(
    [(Allow, Scope("notes:read"), "read"), (Allow, Scope("notes:write"), "write")]
)
Scope(7)  # type: ignore[arg-type]


async def claims_of(request: web.Request) -> None:
    identity = await AuthService.of(request).identity(request)
    if identity is None:
        return
    assert_type(identity, Identity)
    assert_type(identity.scopes, frozenset[str])
    assert_type(identity.claims, Mapping[str, ClaimValue])
    email = identity.claims.get("email")
    # A claim is JSON: narrow it before use.
    email.lower()  # type: ignore[union-attr]
    if isinstance(email, str):
        assert_type(email.lower(), str)
    # Read-only: no assignment to a token's claims.
    identity.claims["sub"] = "x"  # type: ignore[index]
