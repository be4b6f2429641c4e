"""Tickets sent by API clients as `Authorization: Bearer <ticket>` (RFC 6750)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import hdrs, web

from ..identity import Identity
from ._ticketing import Secret, TicketPolicyBase

__all__ = ["BearerTicketPolicy"]

_SCHEME = "bearer"


def bearer_token(request: web.BaseRequest) -> str | None:
    """The token of a `Bearer` Authorization header, if the request sent one."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != _SCHEME:
        return None
    return token.strip()


def checked_realm(realm: str) -> str:
    """`realm`, when it can stand in a `WWW-Authenticate` header's quoted
    string as it is: printable ASCII without quotes or backslashes (a line
    break would let it add headers, and aiohttp refuses to send one)."""
    if not all(" " <= c <= "~" for c in realm) or '"' in realm or "\\" in realm:
        raise ValueError(
            "realm must be printable ASCII without quotes or backslashes, "
            f"not {realm!r}"
        )
    return realm


class BearerTicketPolicy(TicketPolicyBase):
    """A signed ticket that API clients send in the Authorization header.

    `remember` returns the token for your login endpoint to hand out; nothing
    is stored on the client for you, and `forget` has nothing to clear (end a
    token's life early with `AuthService.logout_everywhere`). Refusals carry
    `WWW-Authenticate: Bearer`, with `error="invalid_token"` when a token was
    sent and rejected.

    Args:
        secret: One key (bytes, at least 16), a key ring or a `TicketCodec`.
        max_age: How long a token stays valid (seconds or a timedelta).
        include_ip: Bind tokens to the client's IP address. Default: False.
        max_lifetime: Bound a token's total life from the login. Default:
            no bound.
        realm: Names the protected space in challenges. Default:
            "aiohttp_guard".
    """

    session_name = "bearer"

    def __init__(
        self,
        secret: Secret,
        max_age: float | timedelta,
        include_ip: bool = False,
        *,
        max_lifetime: float | timedelta | None = None,
        realm: str = "aiohttp_guard",
    ) -> None:
        super().__init__(secret, max_age, None, include_ip, max_lifetime=max_lifetime)
        self.realm = checked_realm(realm)

    @property
    def ticket_kind(self) -> str:
        return "Bearer"

    async def identify(self, request: web.Request) -> Identity | None:
        known = self.recognize(request, bearer_token(request))
        return None if known is None else known.identity

    async def remember(self, request: web.Request, user_id: str) -> str:
        return self.codec.encode(self.session_ticket_for(request, user_id))

    async def forget(self, request: web.Request) -> None:
        return None

    def challenge(self, request: web.Request) -> str | None:
        if bearer_token(request) is None:
            return f'Bearer realm="{self.realm}"'
        return f'Bearer realm="{self.realm}", error="invalid_token"'
