"""Reading tickets made by aiohttp_auth (the `ticket_auth` format), so that
users stay logged in across the upgrade. Only ever read, never written:
`TicketCodec.decode_legacy` and the policies' `accept_legacy` read them here.

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
from collections.abc import Sequence
from typing import Final
from urllib.parse import unquote

import attrs

from ..ticket import MAX_TICKET_LENGTH, InvalidTicket, Ticket

__all__ = [
    "LEGACY_ISSUED_MS",
    "LEGACY_KEY_ID",
    "LegacyTicket",
    "LegacyTicketError",
    "legacy_secrets",
    "read_legacy",
    "verify_legacy",
]

#: The `key_id` of tickets read from aiohttp_auth's format.
LEGACY_KEY_ID: Final = "legacy"
#: The issue and login time of tickets read from aiohttp_auth's format, which
#: records neither: the earliest there is, so never later than the truth.
LEGACY_ISSUED_MS: Final = 0

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


def read_legacy(
    text: str,
    secrets: list[bytes],
    *,
    ip: str | None,
    max_age: float,
    now_ms: int,
    skew_ms: int,
) -> Ticket:
    """The `Ticket` of an aiohttp_auth ticket that one of `secrets` signed for
    `ip` (None: unbound), or `InvalidTicket`.

    Its `key_id` is `LEGACY_KEY_ID`, which is never in a ring, so policies
    re-issue it in the current format. One claiming to live longer than
    `max_age` (plus the clock skew `skew_ms`) is refused.

    aiohttp_auth's tickets record only their expiry: when they were issued
    depends on the old application's `max_age`, and when their user logged
    in is unknown (its reissues made new tickets). So the ticket counts as
    issued, and its user as logged in, at the earliest time there is, 0 (the
    epoch): never later than the truth. It is never a fresh login, any
    revocation of its user refuses it, and a limit counted from its login has
    already passed.
    """
    if len(text) > MAX_TICKET_LENGTH:
        raise InvalidTicket("ticket too long")
    try:
        legacy = verify_legacy(text, secrets, ip, now_ms / 1000)
    except LegacyTicketError as exc:
        raise InvalidTicket(str(exc)) from None
    expires = legacy.valid_until * 1000
    if expires - now_ms > round(max_age * 1000) + skew_ms:
        raise InvalidTicket("legacy ticket outlives max_age")
    return Ticket(
        user_id=legacy.user_id,
        expires_ms=expires,
        issued_ms=LEGACY_ISSUED_MS,
        login_ms=LEGACY_ISSUED_MS,
        key_id=LEGACY_KEY_ID,
        ip=ip,
        tokens=legacy.tokens,
        user_data=legacy.user_data,
    )


def legacy_secrets(secret: bytes | Sequence[bytes] | None) -> tuple[bytes, ...]:
    """The secrets that read aiohttp_auth's tickets, as that app had them
    (any non-empty length: they never sign nor verify a current ticket)."""
    if secret is None:
        return ()
    secrets = [secret] if isinstance(secret, bytes) else list(secret)
    if not secrets:
        raise ValueError("legacy_secret is empty: give the old application's secret")
    for one in secrets:
        if not isinstance(one, bytes):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"a legacy secret must be bytes, not {type(one).__name__}; "
                "encode it as the old application did"
            )
        if not one:
            raise ValueError("a legacy secret must not be empty")
    return tuple(secrets)
