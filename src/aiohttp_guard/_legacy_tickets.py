"""Reading tickets made by aiohttp_auth (the `ticket_auth` format), so that
users stay logged in across the upgrade. Only ever read, never written.

The format: a hex SHA-512 digest, the expiry as 8 hex digits (both in lower
case, the only spelling accepted, so that a ticket has one text), then the
URL-quoted user id, tokens and user data joined by `!`. The digest is
`H(H(ip_version + packed_ip + expiry + secret + fields) + secret)`, with the
address `0.0.0.0` when the ticket is not bound to one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
from typing import Final
from urllib.parse import unquote

import attrs

__all__ = ["LegacyTicket", "LegacyTicketError", "verify_legacy"]

_DIGEST_HEX: Final = hashlib.sha512().digest_size * 2
_TIME_HEX: Final = 8
_LOWER_HEX: Final = frozenset("0123456789abcdef")
_UNBOUND: Final = ipaddress.IPv4Address("0.0.0.0")  # noqa: S104 - the format says "no address"


class LegacyTicketError(ValueError):
    """The text is not a valid aiohttp_auth ticket."""


@attrs.frozen
class LegacyTicket:
    user_id: str
    valid_until: int
    tokens: tuple[str, ...]
    user_data: str


def _digest(secret: bytes, data0: bytes, data1: bytes) -> str:
    inner = hashlib.sha512(data0 + secret + data1).digest()
    return hashlib.sha512(inner + secret).hexdigest()


def verify_legacy(
    text: str, secrets: list[bytes], ip: str | None, now: float
) -> LegacyTicket:
    """The ticket in `text` if one of `secrets` signed it for `ip` (None: an
    unbound ticket) and it has not expired; else `LegacyTicketError`."""
    if not text.isascii() or len(text) < _DIGEST_HEX + _TIME_HEX:
        raise LegacyTicketError("malformed legacy ticket")
    digest = text[:_DIGEST_HEX]
    expiry = text[_DIGEST_HEX : _DIGEST_HEX + _TIME_HEX]
    fields = text[_DIGEST_HEX + _TIME_HEX :].split("!")
    if len(fields) != 3:
        raise LegacyTicketError("malformed legacy ticket")
    # Lower case only, as ticket_auth writes it: one text per ticket.
    if not all(c in _LOWER_HEX for c in expiry):
        raise LegacyTicketError("malformed legacy ticket")
    try:
        valid_until = int(expiry, 16)
        address = _UNBOUND if ip is None else ipaddress.ip_address(ip)
    except ValueError:
        raise LegacyTicketError("malformed legacy ticket") from None
    data0 = bytes([address.version]) + address.packed + struct.pack(">I", valid_until)
    data1 = "\0".join(fields).encode()
    if not any(
        hmac.compare_digest(_digest(secret, data0, data1), digest) for secret in secrets
    ):
        raise LegacyTicketError("bad legacy signature")
    if valid_until <= now:
        raise LegacyTicketError("legacy ticket expired")
    user, tokens, data = fields
    return LegacyTicket(
        user_id=unquote(user),
        valid_until=valid_until,
        tokens=tuple(unquote(t) for t in tokens.split(",")) if tokens else (),
        user_data=unquote(data),
    )
