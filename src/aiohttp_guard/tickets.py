"""Signed authentication tickets: the `Ticket` value and the `TicketCodec`.

A ticket says "this user logged in at T and may be trusted until E". It travels
in a cookie, a session or a header, so its text is made only of URL- and
cookie-safe characters (``A-Z a-z 0-9 - _ ~ .``) and is signed with
HMAC-SHA256 over every field. The wire format (version ``v1``)::

    v1.<key id>.<user id>.<expires>.<issued>.<login>.<ip>.<tokens>.<data>.<mac>

Text fields are unpadded base64url of UTF-8; times are integer milliseconds
since the epoch. The MAC covers the exact text before it, so any change to any
character, including a re-encoding of a field, is rejected.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import attrs

from ._fifo_cache import FifoCache
from ._keyed_mac import KeyedMac
from .compat.tickets import (
    LEGACY_ISSUED_MS,
    LEGACY_KEY_ID,
    legacy_secrets,
    read_legacy,
)
from .ticket import MAX_TICKET_LENGTH, InvalidTicket, Ticket

__all__ = [
    "LEGACY_ISSUED_MS",
    "LEGACY_KEY_ID",
    "MAX_TICKET_LENGTH",
    "MIN_SECRET_LENGTH",
    "InvalidTicket",
    "Ticket",
    "TicketCodec",
]

VERSION: Final = "v1"
#: HMAC keys shorter than this are guessable; they are refused outright.
MIN_SECRET_LENGTH: Final = 16

_FIELDS: Final = 10
_VERIFIED_CACHE_SIZE: Final = 4096
_REJECTED_CACHE_SIZE: Final = 1024
#: Longer rejected texts are not remembered: at most 1 MiB of hostile input.
_MAX_REMEMBERED_REJECTION: Final = 1024
_KEY_ID_LABEL: Final = b"aiohttp_guard key id"
_MAX_TIME_DIGITS: Final = 15  # milliseconds until the year 33658
_LIST_MARK: Final = "~"


@attrs.frozen(repr=False)
class _Key:
    key_id: str
    secret: bytes
    mac: KeyedMac = attrs.field(eq=False)

    def sign(self, body: str) -> str:
        """The MAC of a ticket's (ASCII) text, as unpadded base64url."""
        return _b64(self.mac.digest(body.encode("ascii")))


# binascii and str.translate directly, not the base64 module's url-safe
# wrappers around the same calls, which cost 0.32 us more per 4.7 us new
# ticket verified and 0.11 us per 3.4 us ticket issued (benchmarks.micro rows
# "decode, uncached" and "issue + encode", 2026-11-30).
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE: Final = bytes.maketrans(b"-_", b"+/")
_PADDING: Final = (b"", b"===", b"==", b"=")  # by length % 4


def _b64(data: bytes) -> str:
    encoded = binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE)
    return encoded.rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Decode unpadded base64url; `binascii.Error` when it is not."""
    data = text.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(data + _PADDING[len(data) % 4])


def _encode_text(value: str) -> str:
    return _b64(value.encode("utf-8", "surrogatepass")) if value else ""


def _decode_text(field: str) -> str:
    return _unb64(field).decode("utf-8", "surrogatepass") if field else ""


def _make_key(secret: object) -> _Key:
    if not isinstance(secret, bytes):
        raise TypeError(
            f"a ticket secret must be bytes, not {type(secret).__name__}; "
            "use os.urandom(32) or encode a configured string"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"a ticket secret must be at least {MIN_SECRET_LENGTH} bytes long "
            f"(got {len(secret)}); use os.urandom(32)"
        )
    digest = hmac.digest(secret, _KEY_ID_LABEL, hashlib.sha256)
    return _Key(_b64(digest[:6]), secret, KeyedMac(secret))


class TicketCodec:
    """Signs and verifies tickets with a key ring. Tickets name their key by
    an id derived from it, never by position in the ring.

    Args:
        secret: One key (bytes, at least 16) or a non-empty sequence of
            keys: the first signs, every one verifies, and tickets signed by
            the others are *retiring*: policies re-sign them with the first.
        upcoming: Keys that verify but are never re-signed away from, for
            rolling a new key out to several instances before any of them
            signs with it. Default: none.
        clock_skew: How far in the future an issue time may lie, in seconds,
            for servers whose clocks disagree. Default: 5.
        clock: The time now, in seconds since the epoch. Default:
            `time.time`.
        legacy_secret: The secret (one or several, of any non-empty length)
            an aiohttp_auth application signed its tickets with:
            `decode_legacy` reads them with it instead of the ring's keys. It
            never signs nor verifies a ticket of the current format. Default:
            none.
    """

    __slots__ = (
        "_clock",
        "_keys",
        "_legacy",
        "_rejected",
        "_signing",
        "_skew_ms",
        "_upcoming",
        "_verified",
    )

    def __init__(
        self,
        secret: bytes | Sequence[bytes],
        *,
        upcoming: Sequence[bytes] = (),
        clock_skew: float = 5.0,
        clock: Callable[[], float] = time.time,
        legacy_secret: bytes | Sequence[bytes] | None = None,
    ) -> None:
        secrets = [secret] if isinstance(secret, bytes) else list(secret)
        if not secrets:
            raise ValueError("the ticket key ring is empty: give at least one secret")
        keys = [_make_key(s) for s in secrets]
        upcoming_keys = [_make_key(s) for s in upcoming]
        self._keys = {key.key_id: key for key in keys + upcoming_keys}
        if len(self._keys) != len(keys) + len(upcoming_keys):
            raise ValueError("the ticket key ring holds the same secret twice")
        self._upcoming = frozenset(key.key_id for key in upcoming_keys)
        # Kept apart from the ring: only `decode_legacy` ever reads them.
        self._legacy = legacy_secrets(legacy_secret)
        if clock_skew < 0:
            raise ValueError("clock_skew must not be negative")
        self._signing = keys[0]
        self._skew_ms = round(clock_skew * 1000)
        self._clock = clock
        # Texts whose signature checked out, so that the ticket a client sends
        # on every request is verified once, not on every request (0.34 us
        # instead of 4.7, benchmarks.micro "decode", 2026-11-30). Keyed by
        # the whole text, and only ever holding what a ring key signed.
        self._verified: FifoCache[str, Ticket] = FifoCache(_VERIFIED_CACHE_SIZE)
        # Texts whose form or signature failed, with why: a forged or
        # tampered ticket sent again and again costs one look-up, not a MAC
        # (1.0 us instead of 3.0 per refusal, 2026-11-30). The ring never
        # changes, so such a text can never become valid. Apart from the
        # verified ones, so that garbage evicts only garbage.
        self._rejected: FifoCache[str, str] = FifoCache(_REJECTED_CACHE_SIZE)

    def __repr__(self) -> str:
        return f"TicketCodec(key_ids={list(self._keys)!r})"

    @property
    def signing_key_id(self) -> str:
        """The id of the key that signs new tickets."""
        return self._signing.key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every key that verifies tickets (upcoming ones too)."""
        return frozenset(self._keys)

    @property
    def clock_skew_ms(self) -> int:
        """How far in the future an issue time may lie, in milliseconds."""
        return self._skew_ms

    def is_retiring(self, key_id: str) -> bool:
        """Whether tickets signed with `key_id` should be re-signed: true for
        every key of the ring but the signing one and the upcoming ones."""
        return key_id != self._signing.key_id and key_id not in self._upcoming

    def now_ms(self) -> int:
        """The codec's clock, in integer milliseconds."""
        return int(self._clock() * 1000)

    def issue(
        self,
        user_id: str,
        max_age: float,
        *,
        ip: str | None = None,
        tokens: Iterable[str] = (),
        user_data: str = "",
        login_ms: int | None = None,
        max_lifetime: float | None = None,
    ) -> Ticket:
        """A new ticket for `user_id`, valid for `max_age` seconds from now.

        Pass the `login_ms` of an existing ticket to reissue it; `max_lifetime`
        (seconds from login) caps the expiry so reissuing never extends it.
        """
        if not isinstance(user_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"user_id must be a str, not {type(user_id).__name__}")
        now = self.now_ms()
        login = now if login_ms is None else login_ms
        expires = now + round(max_age * 1000)
        if max_lifetime is not None:
            expires = min(expires, login + round(max_lifetime * 1000))
        # Positional: keywords cost 0.33 us of the 3.4 us an issue takes
        # (benchmarks.micro "issue + encode", 2026-11-30).
        return Ticket(
            user_id, expires, now, login, self._signing.key_id, ip, tokens, user_data
        )

    def encode(self, ticket: Ticket) -> str:
        """The signed text of `ticket`, made with the key its `key_id` names."""
        key = self._keys.get(ticket.key_id)
        if key is None:
            raise ValueError(f"no key with id {ticket.key_id!r} in the key ring")
        body = ".".join(
            (
                VERSION,
                key.key_id,
                _encode_text(ticket.user_id),
                str(ticket.expires_ms),
                str(ticket.issued_ms),
                str(ticket.login_ms),
                "" if ticket.ip is None else _LIST_MARK + _encode_text(ticket.ip),
                # Most tickets have no tokens: skipping the join for them
                # saves 0.22 us of a 3.4 us issue (benchmarks.micro, 2026-11-30).
                "".join([_LIST_MARK + _encode_text(t) for t in ticket.tokens])
                if ticket.tokens
                else "",
                _encode_text(ticket.user_data),
            )
        )
        return body + "." + key.sign(body)

    def decode(self, text: str, *, ip: str | None = None) -> Ticket:
        """Verify `text` and return its ticket, or raise `InvalidTicket`.

        `ip` is the client address the ticket must be bound to (or None for an
        unbound ticket): a ticket bound to another address, or bound when it
        should not be, is rejected.
        """
        ticket = self._verified.get(text)
        if ticket is None:
            ticket = self._verified.put(text, self._authenticate_once(text))
        now = self.now_ms()
        if now >= ticket.expires_ms:
            raise InvalidTicket("ticket expired")
        if ticket.issued_ms > now + self._skew_ms:
            raise InvalidTicket("ticket issued in the future")
        if ticket.ip != ip:
            raise InvalidTicket("ticket bound to another client address")
        return ticket

    def decode_legacy(self, text: str, *, ip: str | None, max_age: float) -> Ticket:
        """Verify a ticket made by aiohttp_auth, or raise `InvalidTicket`: with
        `legacy_secret` when the codec has one, else with the ring's keys.
        See `compat.tickets.read_legacy` for what the ticket then says."""
        secrets = list(self._legacy) or [key.secret for key in self._keys.values()]
        return read_legacy(
            text,
            secrets,
            ip=ip,
            max_age=max_age,
            now_ms=self.now_ms(),
            skew_ms=self._skew_ms,
        )

    def _authenticate_once(self, text: str) -> Ticket:
        """`_authenticate`, remembering the texts it rejects."""
        reason = self._rejected.get(text)
        if reason is not None:
            raise InvalidTicket(reason)
        try:
            return self._authenticate(text)
        except InvalidTicket as exc:
            if len(text) <= _MAX_REMEMBERED_REJECTION:
                self._rejected.put(text, exc.reason)
            raise

    def _authenticate(self, text: str) -> Ticket:
        """The ticket of `text` if its form and signature are right."""
        if len(text) > MAX_TICKET_LENGTH:
            raise InvalidTicket("ticket too long")
        if not text.isascii():
            raise InvalidTicket("malformed ticket")
        parts = text.split(".")
        if len(parts) != _FIELDS:
            raise InvalidTicket("malformed ticket")
        if parts[0] != VERSION:
            raise InvalidTicket("unknown ticket version")
        key = self._keys.get(parts[1])
        if key is None:
            raise InvalidTicket("unknown signing key")
        body = text[: -len(parts[-1]) - 1]
        if not hmac.compare_digest(key.sign(body), parts[-1]):
            raise InvalidTicket("bad signature")
        return self._parse(parts)

    @staticmethod
    def _parse(parts: list[str]) -> Ticket:
        # Only text we signed reaches here, but it is parsed defensively all the
        # same: a leaked key must not become a way to crash the server.
        _, key_id, user, expires, issued, login, ip, tokens, data, _ = parts
        expires_ms, issued_ms, login_ms = _time(expires), _time(issued), _time(login)
        try:
            # Positional, and no token list built for a ticket without tokens:
            # each saves 0.3 us of the 4.7 us a new ticket's verification takes
            # (benchmarks.micro "decode, uncached", 2026-11-30).
            return Ticket(
                _decode_text(user),
                expires_ms,
                issued_ms,
                login_ms,
                key_id,
                _decode_text(ip[1:]) if ip else None,
                tuple([_decode_text(t) for t in tokens.split(_LIST_MARK)[1:]])
                if tokens
                else (),
                _decode_text(data),
            )
        except (binascii.Error, UnicodeError) as exc:
            raise InvalidTicket("malformed ticket") from exc


def _time(field: str) -> int:
    """A time field: at most 15 digits (the text is ASCII, checked first, so
    `isdigit` means 0-9)."""
    if not field.isdigit() or len(field) > _MAX_TIME_DIGITS:
        raise InvalidTicket("malformed time field")
    return int(field)
