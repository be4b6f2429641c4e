"""Signed authentication tickets: the `Ticket` value and the `TicketCodec`.

A ticket says "this user logged in at T and may be trusted until E". It travels
in a cookie, a session or a header, so its text is made only of URL- and
cookie-safe characters (``A-Z a-z 0-9 - _ ~ .``) and is signed with
HMAC-SHA256 over every field, under a key the ticket names by an id derived
from it. New tickets are written in format `v2` (`_ticket_v2`: binary fields
in one base64url blob); those of format `v1` (`_ticket_v1`: text fields) are
read until they expire. The MAC covers the exact bytes of every field and the
format's name, so any change to any character is rejected, and a MAC of one
format is never one of the other.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Literal

import attrs

from ._base64url import encode_b64url
from ._fifo_cache import FifoCache
from ._keyed_mac import KeyedMac
from ._ticket_v1 import V1_PREFIX, split_v1, unpack_v1, v1_body
from ._ticket_v2 import (
    KEY_ID_SIZE,
    V2_PREFIX,
    V2_SIGNED_PREFIX,
    pack_v2,
    split_v2,
    unpack_v2,
    v2_text,
)
from .compat.tickets import (
    LEGACY_ISSUED_MS,
    LEGACY_KEY_ID,
    legacy_secrets,
    read_legacy,
)
from .ticket import MAX_TICKET_LENGTH, InvalidTicket, Ticket

__all__ = [
    "FORMAT_PREFIXES",
    "LEGACY_ISSUED_MS",
    "LEGACY_KEY_ID",
    "MAX_TICKET_LENGTH",
    "MIN_SECRET_LENGTH",
    "InvalidTicket",
    "Ticket",
    "TicketCodec",
]

#: How the text of a ticket of each format this codec reads begins.
FORMAT_PREFIXES: Final = (V2_PREFIX, V1_PREFIX)
#: HMAC keys shorter than this are guessable; they are refused outright.
MIN_SECRET_LENGTH: Final = 16

_VERIFIED_CACHE_SIZE: Final = 4096
_REJECTED_CACHE_SIZE: Final = 1024
#: Longer rejected texts are not remembered: at most 1 MiB of hostile input.
_MAX_REMEMBERED_REJECTION: Final = 1024
_KEY_ID_LABEL: Final = b"aiohttp_guard key id"


@attrs.frozen(repr=False)
class _Key:
    key_id: str
    raw_id: bytes  # what `key_id` encodes, as format v2 carries it
    secret: bytes
    mac: KeyedMac = attrs.field(eq=False)  # format v1's: of the text itself
    mac_v2: KeyedMac = attrs.field(eq=False)  # of "v2." and the payload


def _raw_key_id(secret: bytes) -> bytes:
    """The id of a secret: derived from it, and telling nothing of it."""
    return hmac.digest(secret, _KEY_ID_LABEL, hashlib.sha256)[:KEY_ID_SIZE]


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
    raw_id = _raw_key_id(secret)
    return _Key(
        encode_b64url(raw_id),
        raw_id,
        secret,
        KeyedMac(secret),
        KeyedMac(secret, V2_SIGNED_PREFIX),
    )


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
        write_version: The format new tickets are written in: 2 (the
            default) or 1, which earlier versions of the library read too:
            for a rolling upgrade, until no instance runs one of them. Both
            are always read.
    """

    __slots__ = (
        "_clock",
        "_keys",
        "_keys_by_raw_id",
        "_legacy",
        "_rejected",
        "_signing",
        "_skew_ms",
        "_upcoming",
        "_verified",
        "_write_version",
    )

    def __init__(
        self,
        secret: bytes | Sequence[bytes],
        *,
        upcoming: Sequence[bytes] = (),
        clock_skew: float = 5.0,
        clock: Callable[[], float] = time.time,
        legacy_secret: bytes | Sequence[bytes] | None = None,
        write_version: Literal[1, 2] = 2,
    ) -> None:
        if write_version not in (1, 2):
            raise ValueError(f"write_version must be 1 or 2, not {write_version!r}")
        self._write_version = write_version
        secrets = [secret] if isinstance(secret, bytes) else list(secret)
        if not secrets:
            raise ValueError("the ticket key ring is empty: give at least one secret")
        keys = [_make_key(s) for s in secrets]
        upcoming_keys = [_make_key(s) for s in upcoming]
        self._keys = {key.key_id: key for key in keys + upcoming_keys}
        if len(self._keys) != len(keys) + len(upcoming_keys):
            raise ValueError("the ticket key ring holds the same secret twice")
        self._keys_by_raw_id = {key.raw_id: key for key in self._keys.values()}
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
    def write_version(self) -> int:
        """The format new tickets are written in (1 or 2)."""
        return self._write_version

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every key that verifies tickets (upcoming ones too)."""
        return frozenset(self._keys)

    @property
    def legacy_key_ids(self) -> frozenset[str]:
        """The ids of the secrets `decode_legacy` verifies with: those of
        `legacy_secret`, else the ring's. An id is derived as a ring key's
        is, so one secret has one id wherever it is used."""
        if self._legacy:
            return frozenset(encode_b64url(_raw_key_id(s)) for s in self._legacy)
        return self.key_ids

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
        session_id: str | None = None,
    ) -> Ticket:
        """A new ticket for `user_id`, valid for `max_age` seconds from now.

        Pass the `login_ms` (and `session_id`) of an existing ticket to
        reissue it; `max_lifetime` (seconds from login) caps the expiry so
        reissuing never extends it.
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
            user_id,
            expires,
            now,
            login,
            self._signing.key_id,
            ip,
            tokens,
            user_data,
            session_id,
        )

    def encode(self, ticket: Ticket) -> str:
        """The signed text of `ticket`, made with the key its `key_id` names,
        in the codec's `write_version`. ValueError for a ticket no codec
        would accept: longer than `MAX_TICKET_LENGTH`, or with what the
        format cannot hold."""
        key = self._keys.get(ticket.key_id)
        if key is None:
            raise ValueError(f"no key with id {ticket.key_id!r} in the key ring")
        if self._write_version == 2:
            payload = pack_v2(ticket, key.raw_id)
            text = v2_text(payload, key.mac_v2.digest(payload))
        else:
            body = v1_body(ticket, key.key_id)
            text = body + "." + encode_b64url(key.mac.digest(body.encode()))
        if len(text) > MAX_TICKET_LENGTH:
            raise ValueError(
                f"this ticket's text would be {len(text)} characters long, over "
                f"the {MAX_TICKET_LENGTH} that verification accepts: keep user "
                "ids, tokens and user data short"
            )
        return text

    def decode(self, text: str, *, ip: str | None = None) -> Ticket:
        """Verify `text` and return its ticket, or raise `InvalidTicket`.

        `ip` is the client address the ticket must be bound to (or None for an
        unbound ticket): a ticket bound to another address, or bound when it
        should not be, is rejected.
        """
        found = self.decode_or_reason(text, ip=ip)
        if isinstance(found, str):
            raise InvalidTicket(found)
        return found

    def decode_or_reason(
        self, text: str, *, ip: str | None = None, remember: bool = True
    ) -> Ticket | str:
        """`decode` without raising: the ticket, or why it is rejected (the
        `InvalidTicket.reason` that `decode` would raise). A server answers
        the same forged or tampered text again and again: an exception
        raised and caught costs 9 memory blocks and about a microsecond of
        each such refusal (benchmarks.allocations, 2026-12-01).

        `remember=False` leaves a text verified now out of the codec's own
        memory of verified texts, for a caller that keeps it itself (the
        ticket policies): with more clients than either keeps, the second
        copy cost every new client's request a cache entry for nothing.
        Rejected texts are remembered either way."""
        ticket = self._verified.get(text)
        if ticket is None:
            reason = self._rejected.get(text)
            if reason is not None:
                return reason
            try:
                ticket = self._authenticate(text)
            except InvalidTicket as exc:
                if len(text) <= _MAX_REMEMBERED_REJECTION:
                    self._rejected.put(text, exc.reason)
                return exc.reason
            if remember:
                self._verified.put(text, ticket)
        now = self.now_ms()
        if now >= ticket.expires_ms:
            return "ticket expired"
        if ticket.issued_ms > now + self._skew_ms:
            return "ticket issued in the future"
        if ticket.ip != ip:
            return "ticket bound to another client address"
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

    def _authenticate(self, text: str) -> Ticket:
        """The ticket of `text` if its form and signature are right."""
        if len(text) > MAX_TICKET_LENGTH:
            raise InvalidTicket("ticket too long")
        if text.startswith(V2_PREFIX):
            raw_id, payload, mac = split_v2(text)
            key = self._keys_by_raw_id.get(raw_id)
            if key is None:
                raise InvalidTicket("unknown signing key")
            if not hmac.compare_digest(key.mac_v2.digest(payload), mac):
                raise InvalidTicket("bad signature")
            return unpack_v2(payload, key.key_id)
        if text.startswith(V1_PREFIX):
            if not text.isascii():
                raise InvalidTicket("malformed ticket")
            key_id, body, mac_text, fields = split_v1(text)
            key = self._keys.get(key_id)
            if key is None:
                raise InvalidTicket("unknown signing key")
            expected = encode_b64url(key.mac.digest(body.encode("ascii")))
            if not hmac.compare_digest(expected, mac_text):
                raise InvalidTicket("bad signature")
            return unpack_v1(fields)
        raise InvalidTicket("unknown ticket version")
