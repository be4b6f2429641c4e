"""What the ticket-carrying policies share: options, verification, reissue.

`TicketPolicyBase` knows tickets, not where they travel; `NamedTicketPolicy`
adds the name a client keeps its ticket under (a cookie's, or a key of the
session), in aiohttp_auth's argument order.
"""

from __future__ import annotations

import abc
import ipaddress
import logging
import math
from collections.abc import Hashable, Sequence
from datetime import timedelta

from aiohttp import web

from .._durations import seconds
from .._fifo_cache import FifoCache
from ..audit import audit
from ..configuration import warn_configuration
from ..identity import Identity
from ..request_state import RequestState
from ..tickets import (
    FORMAT_PREFIXES,
    LEGACY_KEY_ID,
    InvalidTicket,
    Ticket,
    TicketCodec,
)
from .base import AbstractAuthentication

__all__ = [
    "NamedTicketPolicy",
    "Recognized",
    "TicketPolicyBase",
    "canonical_ip",
    "client_ip",
    "may_reissue",
]

log = logging.getLogger("aiohttp_guard")

Secret = bytes | Sequence[bytes] | TicketCodec

#: Ticket texts recognised lately, per policy: as many as the codec verifies.
_RECOGNIZED_CACHE_SIZE = 4096


class Recognized:
    """A valid ticket as a policy recognised it: its `Identity`, made once,
    and the times (the policy's clock, in ms) between which it holds and
    from which it is due for renewal, so that each later request with the
    same text costs a look-up and two comparisons instead of a verification
    and an `Identity` (1.6 us of a 7 us guarded request, in process,
    benchmarks.inprocess, 2026-12-01)."""

    __slots__ = (
        "identity",
        "renew_from_ms",
        "ticket",
        "valid_from_ms",
        "valid_until_ms",
    )

    def __init__(
        self,
        ticket: Ticket,
        identity: Identity,
        valid_from_ms: int,
        valid_until_ms: int,
        renew_from_ms: int,
    ) -> None:
        self.ticket = ticket
        self.identity = identity
        self.valid_from_ms = valid_from_ms
        self.valid_until_ms = valid_until_ms
        self.renew_from_ms = renew_from_ms


def client_ip(request: web.BaseRequest) -> str | None:
    """The client's address in one canonical spelling, so that a ticket bound to
    it matches however the socket reports it (IPv4-mapped IPv6, zero padding).
    None when the peer has no IP address (a Unix socket)."""
    return canonical_ip(request.remote)


def canonical_ip(address: str | None) -> str | None:
    """`address` in one canonical spelling, or None when it is not an IP."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


def may_reissue(request: web.BaseRequest, response: web.StreamResponse) -> bool:
    """Renew tickets only on success responses whose headers are not yet sent,
    and only while the service still vouches for the identity."""
    return (
        200 <= response.status < 300
        and not response.prepared
        and RequestState.current(request).may_renew()
    )


class TicketPolicyBase(AbstractAuthentication):
    """Options and checks common to the ticket policies.

    Args:
        secret: One key (bytes, at least 16), a key ring (the first key
            signs, every one verifies) or a ready `TicketCodec`.
        max_age: How long a ticket stays valid, in seconds or a timedelta.
        reissue_time: A ticket with less than this left (seconds or a
            timedelta) is renewed on a successful response. Default: never.
        include_ip: Bind tickets to the client's IP address. Default: False.
        max_lifetime: Bound a login's total life, counted from the login
            however often its ticket is renewed (seconds or a timedelta).
            Default: no bound.
        accept_legacy: Also read aiohttp_auth's tickets, for the time of a
            migration, and reissue them in the current format. Not with
            `max_lifetime`: they do not record when their user logged in,
            so they count as logged in at the epoch. Default: False.
        legacy_secret: The old application's secret (of any length: it only
            ever reads aiohttp_auth's tickets). Default: the ring's keys.
    """

    def __init__(
        self,
        secret: Secret,
        max_age: float | timedelta,
        reissue_time: float | timedelta | None = None,
        include_ip: bool = False,
        *,
        max_lifetime: float | timedelta | None = None,
        accept_legacy: bool = False,
        legacy_secret: bytes | Sequence[bytes] | None = None,
    ) -> None:
        if legacy_secret is not None and not accept_legacy:
            raise ValueError(
                "legacy_secret only reads aiohttp_auth's tickets: pass "
                "accept_legacy=True with it"
            )
        if accept_legacy and max_lifetime is not None:
            raise ValueError(
                "accept_legacy cannot be combined with max_lifetime: "
                "aiohttp_auth's tickets do not record when their user logged "
                "in, so max_lifetime would refuse every one of them; add "
                "max_lifetime once accept_legacy is off"
            )
        if isinstance(secret, TicketCodec):
            if legacy_secret is not None:
                raise ValueError(
                    "give legacy_secret to the TicketCodec passed as the secret"
                )
            self.codec = secret
        else:
            self.codec = TicketCodec(secret, legacy_secret=legacy_secret)
        self.accept_legacy = accept_legacy
        self.max_age = seconds(max_age, "max_age")
        if self.max_age == 0:
            raise ValueError("max_age must be positive")
        self.reissue_time = (
            None if reissue_time is None else seconds(reissue_time, "reissue_time")
        )
        self.max_lifetime = (
            None if max_lifetime is None else seconds(max_lifetime, "max_lifetime")
        )
        _check_lifetimes(self.max_age, self.reissue_time, self.max_lifetime)
        self.include_ip = include_ip
        # The longest a ticket may live from its issue: max_age, and the
        # clock skew the codec allows between instances.
        self._longest_life_ms = round(self.max_age * 1000) + self.codec.clock_skew_ms
        self._warned_unbindable = False
        self._recognized: FifoCache[str, Recognized] = FifoCache(_RECOGNIZED_CACHE_SIZE)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(max_age={self.max_age}, "
            f"reissue_time={self.reissue_time}, include_ip={self.include_ip}, "
            f"codec={self.codec!r})"
        )

    @property
    def max_ticket_age(self) -> float | None:
        """`max_age` and the clock skew the codec allows between instances;
        None with `accept_legacy`: aiohttp_auth's tickets tell no issue time,
        so no age bounds them."""
        if self.accept_legacy:
            return None
        return self._longest_life_ms / 1000

    @property
    def max_session_ticket_age(self) -> float | None:
        """`max_age` and the clock skew, with `accept_legacy` too: tickets
        with a session id are never aiohttp_auth's."""
        return self._longest_life_ms / 1000

    def credential_ids(self) -> frozenset[Hashable]:
        """The ring's key ids, and with `accept_legacy` those of the
        secrets that verify aiohttp_auth's tickets (tagged "legacy"): two
        services reading the same old tickets share revocations too."""
        ids: frozenset[Hashable] = self.codec.key_ids
        if self.accept_legacy:
            ids |= {("legacy", key_id) for key_id in self.codec.legacy_key_ids}
        return ids

    def session_kind(self, request: web.Request) -> str | None:
        """`session_name`, when the codec writes a format that carries a
        session id (not during a rolling upgrade with `write_version=1`)."""
        return self.session_name if self.codec.write_version >= 2 else None

    #: What the policy's logins are called in a user's list of sessions.
    session_name: str | None = None

    def now_ms(self, request: web.Request) -> int:
        """The codec's clock, which dates the policy's tickets."""
        return self.codec.now_ms()

    @property
    def ticket_kind(self) -> str:
        """What the policy's tickets are called in logs."""
        return type(self).__name__

    @abc.abstractmethod
    async def identify(self, request: web.Request) -> Identity | None:
        """The identity in the request's ticket; subclasses say where it is."""

    async def get(self, request: web.Request) -> str | None:
        identity = await self.identify(request)
        return None if identity is None else identity.user_id

    def ticket_for(
        self, user_id: str, address: str | None, session_id: str | None = None
    ) -> Ticket:
        """A new login ticket for `user_id` on a client at `address` (used
        only when the policy binds tickets to addresses, and then it must be
        an IP address), in the login session `session_id`."""
        ip = None
        if self.include_ip:
            ip = canonical_ip(address)
            if ip is None:
                raise ValueError(
                    f"{type(self).__name__}(include_ip=True) binds tickets to an "
                    f"IP address, and {address!r} is not an IP address (a Unix "
                    "socket?). Serve over TCP, let aiohttp-remotes set the "
                    "client's address behind a proxy, or set include_ip=False"
                )
        return self.codec.issue(
            user_id,
            self.max_age,
            ip=ip,
            max_lifetime=self.max_lifetime,
            session_id=session_id,
        )

    def audit_renewal(self, request: web.BaseRequest, ticket: Ticket) -> None:
        """Log that `ticket` was renewed on this response: an aiohttp_auth
        ticket's renewal is its conversion to the current format."""
        if ticket.key_id == LEGACY_KEY_ID:
            kind, what = "legacy_conversion", "an aiohttp_auth ticket was converted"
        else:
            kind, what = "renewal", "a ticket was renewed"
        audit(
            kind,
            logging.INFO,
            f"{what} for {ticket.user_id!r}",
            request,
            user_id=ticket.user_id,
            policy=type(self).__name__,
        )

    def renewal(self, ticket: Ticket) -> tuple[Ticket, str] | None:
        """`ticket`'s renewal and its text, or None when it cannot be written
        (logged): a ticket accepted in one format may not fit the one the
        codec writes (too long, or a session id for format v1). The client
        then keeps its ticket until it expires, rather than every request
        failing."""
        renewed = self.renewed(ticket)
        try:
            return renewed, self.codec.encode(renewed)
        except ValueError as exc:
            log.warning(
                "aiohttp_guard: a ticket of %r could not be renewed, so it stays "
                "as it is until it expires: %s",
                ticket.user_id,
                exc,
            )
            return None

    def renewed(self, ticket: Ticket) -> Ticket:
        """A fresh ticket carrying `ticket`'s login time, so its limits hold."""
        return self.codec.issue(
            ticket.user_id,
            self.max_age,
            ip=ticket.ip,
            tokens=ticket.tokens,
            user_data=ticket.user_data,
            login_ms=ticket.login_ms,
            max_lifetime=self.max_lifetime,
            session_id=ticket.session_id,
        )

    def verify(
        self, request: web.BaseRequest, text: object, *, remember: bool = True
    ) -> Ticket | None:
        """The valid ticket in `text`, or None: bad input never raises.
        `remember=False`: the caller keeps the ticket itself, so the codec
        need not (see `TicketCodec.decode_or_reason`)."""
        if not isinstance(text, str) or not text:
            return None
        ip = None
        if self.include_ip:
            ip = client_ip(request)
            if ip is None:
                # Binding to "no address" would let every such client share
                # one ticket: nothing is accepted from them instead.
                self._warn_unbindable(request)
                return None
        found: Ticket | str
        if self.accept_legacy and not text.startswith(FORMAT_PREFIXES):
            try:
                found = self.codec.decode_legacy(text, ip=ip, max_age=self.max_age)
            except InvalidTicket as exc:
                found = exc.reason
        else:
            found = self.codec.decode_or_reason(text, ip=ip, remember=remember)
        if isinstance(found, str):
            log.debug("rejected %s ticket: %s", self.ticket_kind, found)
            return None
        ticket = found
        if (
            ticket.expires_ms - ticket.issued_ms > self._longest_life_ms
            and ticket.key_id != LEGACY_KEY_ID
        ):
            # Revocations are kept as long as a ticket of this policy lives:
            # a ticket made to live longer (by an earlier configuration, or
            # issued by hand) would outlive them, so it is refused. Legacy
            # tickets have no issue time; revocations are kept for good
            # while they are accepted.
            log.debug("rejected %s ticket: outlives max_age", self.ticket_kind)
            return None
        if self.max_lifetime is not None:
            limit = ticket.login_ms + round(self.max_lifetime * 1000)
            if self.codec.now_ms() >= limit:
                log.debug("rejected %s ticket: past max_lifetime", self.ticket_kind)
                return None
        return ticket

    def recognize(
        self, request: web.BaseRequest, text: object, now_ms: int | None = None
    ) -> Recognized | None:
        """`verify`, remembered by the ticket's text: a text verified before
        is checked again only against the clock (read now, or `now_ms` from
        the policy's clock, for a caller that compares it with the renewal
        time too). Tickets bound to an address are verified every time (the
        address is the request's), and so are aiohttp_auth's."""
        if not isinstance(text, str):
            return None
        known = self._recognized.get(text)
        if known is not None:
            if now_ms is None:
                now_ms = self.codec.now_ms()
            if known.valid_from_ms <= now_ms < known.valid_until_ms:
                return known
            del self._recognized[text]  # past its time: verify says why
        # What is kept here need not be kept by the codec too: tickets bound
        # to an address are kept there only.
        ticket = self.verify(request, text, remember=self.include_ip)
        if ticket is None:
            return None
        recognized = self._recognized_from(ticket)
        if not self.include_ip and ticket.key_id != LEGACY_KEY_ID:
            self._recognized.put(text, recognized)
        return recognized

    def _recognized_from(self, ticket: Ticket) -> Recognized:
        """The times between which `verify` accepts `ticket`, and from which
        it is due for renewal: at once when signed by a retiring key, else
        once less than `reissue_time` is left."""
        valid_until = ticket.expires_ms
        if self.max_lifetime is not None:
            valid_until = min(
                valid_until, ticket.login_ms + round(self.max_lifetime * 1000)
            )
        valid_from = ticket.issued_ms - self.codec.clock_skew_ms
        if self.codec.is_retiring(ticket.key_id):
            renew_from = valid_from
        elif self.reissue_time is None:
            renew_from = valid_until
        else:
            # expires - now < reissue_time, for a whole number of ms `now`.
            renew_from = math.floor(ticket.expires_ms - self.reissue_time * 1000) + 1
        return Recognized(
            ticket, self.identity_of(ticket), valid_from, valid_until, renew_from
        )

    def _warn_unbindable(self, request: web.BaseRequest) -> None:
        if not self._warned_unbindable:
            self._warned_unbindable = True
            log.error(
                "%s(include_ip=True) refuses every ticket from clients without "
                "an IP address (request.remote is %r): serve over TCP, or let "
                "aiohttp-remotes set the address behind a proxy",
                type(self).__name__,
                request.remote,
            )

    def identity_of(self, ticket: Ticket) -> Identity:
        """The `Identity` a ticket proves."""
        return Identity(
            ticket.user_id, ticket.login_ms, ticket.issued_ms, ticket.session_id
        )

    def session_ticket_for(self, request: web.Request, user_id: str) -> Ticket:
        """A new login ticket for `user_id` from `request`, in the login
        session the service is starting, if any."""
        session_id = RequestState.current(request).starting_session
        return self.ticket_for(user_id, request.remote, session_id)


class NamedTicketPolicy(TicketPolicyBase):
    """A ticket the client keeps under `cookie_name`: a cookie's name, or the
    key of the aiohttp_session session that holds it. The other arguments
    are `TicketPolicyBase`'s."""

    def __init__(
        self,
        secret: Secret,
        max_age: float | timedelta,
        reissue_time: float | timedelta | None = None,
        include_ip: bool = False,
        cookie_name: str = "AUTH_TKT",
        *,
        max_lifetime: float | timedelta | None = None,
        accept_legacy: bool = False,
        legacy_secret: bytes | Sequence[bytes] | None = None,
    ) -> None:
        super().__init__(
            secret,
            max_age,
            reissue_time,
            include_ip,
            max_lifetime=max_lifetime,
            accept_legacy=accept_legacy,
            legacy_secret=legacy_secret,
        )
        self.cookie_name = cookie_name

    @property
    def ticket_kind(self) -> str:
        return self.cookie_name

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(max_age={self.max_age}, "
            f"reissue_time={self.reissue_time}, include_ip={self.include_ip}, "
            f"cookie_name={self.cookie_name!r}, codec={self.codec!r})"
        )


def _check_lifetimes(
    max_age: float, reissue_time: float | None, max_lifetime: float | None
) -> None:
    """Warn of lifetimes that work but contradict each other: likely mistakes,
    yet each has a use (aiohttp_auth allowed a reissue on every response; a
    lowered max_lifetime cuts short the tickets already out)."""
    if max_lifetime is not None and max_lifetime < max_age:
        warn_configuration(
            f"max_lifetime ({max_lifetime:g} s) is shorter than max_age "
            f"({max_age:g} s): every login ends at max_lifetime, and its "
            "cookie outlives it; make max_age at most max_lifetime"
        )
    if reissue_time is not None and reissue_time >= max_age:
        warn_configuration(
            f"reissue_time ({reissue_time:g} s) is not shorter than max_age "
            f"({max_age:g} s): a ticket always has less than reissue_time left, "
            "so every successful response carries a new one; a reissue_time "
            "of a fraction of max_age (a tenth to a half) renews active users "
            "without a new ticket per response"
        )
