"""The ticket format `v1`: ten dot-separated text fields.

    v1.<key id>.<user id>.<expires>.<issued>.<login>.<ip>.<tokens>.<data>.<mac>

Text fields are unpadded base64url of UTF-8 (lone surrogates kept); times are
decimal milliseconds since the epoch; the ip and each token follow a `~`. The
MAC is HMAC-SHA256 of the exact text before it. Tickets of this format stay
valid until they expire; new ones are written in it only when a codec is
told to (`TicketCodec(..., write_version=1)`, for a rolling upgrade).
"""

from __future__ import annotations

import binascii
from typing import Final

from ._base64url import decode_b64url, encode_b64url
from .ticket import InvalidTicket, Ticket

__all__ = ["V1_PREFIX", "split_v1", "unpack_v1", "v1_body"]

V1_PREFIX: Final = "v1."
_FIELDS: Final = 10
_MAX_TIME_DIGITS: Final = 15  # milliseconds until the year 33658
_LIST_MARK: Final = "~"


def v1_body(ticket: Ticket, key_id: str) -> str:
    """The signed text of `ticket` for the key `key_id`; ValueError for what
    the format cannot hold (a session id, a time before the epoch)."""
    if ticket.session_id is not None:
        raise ValueError("ticket format v1 cannot carry a session id: write version 2")
    times = (ticket.expires_ms, ticket.issued_ms, ticket.login_ms)
    if not all(0 <= t < 10**_MAX_TIME_DIGITS for t in times):
        raise ValueError("a ticket time is out of the range of format v1")
    return ".".join(
        (
            "v1",
            key_id,
            _encode_text(ticket.user_id),
            *map(str, times),
            "" if ticket.ip is None else _LIST_MARK + _encode_text(ticket.ip),
            "".join([_LIST_MARK + _encode_text(t) for t in ticket.tokens]),
            _encode_text(ticket.user_data),
        )
    )


def split_v1(text: str) -> tuple[str, str, str, list[str]]:
    """The key id, the signed text, the MAC text and the fields of a `v1`
    text; `InvalidTicket` when it cannot be one."""
    parts = text.split(".")
    if len(parts) != _FIELDS:
        raise InvalidTicket("malformed ticket")
    mac = parts[-1]
    return parts[1], text[: -len(mac) - 1], mac, parts


def unpack_v1(parts: list[str]) -> Ticket:
    """The ticket of the fields of a text whose MAC checked out. Parsed
    defensively all the same: a leaked key must not become a way to crash
    the server."""
    _, key_id, user, expires, issued, login, ip, tokens, data, _ = parts
    expires_ms, issued_ms, login_ms = _time(expires), _time(issued), _time(login)
    try:
        return Ticket(
            _decode_text(user),
            expires_ms,
            issued_ms,
            login_ms,
            key_id,
            _decode_text(ip[1:]) if ip else None,
            tuple([_decode_text(t) for t in tokens.split(_LIST_MARK)[1:]]),
            _decode_text(data),
        )
    except (binascii.Error, UnicodeError) as exc:
        raise InvalidTicket("malformed ticket") from exc


def _encode_text(value: str) -> str:
    return encode_b64url(value.encode("utf-8", "surrogatepass")) if value else ""


def _decode_text(field: str) -> str:
    return decode_b64url(field).decode("utf-8", "surrogatepass") if field else ""


def _time(field: str) -> int:
    """A time field: at most 15 digits (the text is ASCII, checked first, so
    `isdigit` means 0-9)."""
    if not field.isdigit() or len(field) > _MAX_TIME_DIGITS:
        raise InvalidTicket("malformed time field")
    return int(field)
