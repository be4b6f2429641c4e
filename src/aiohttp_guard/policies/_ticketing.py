"""What the ticket-carrying policies share: options, verification, reissue."""

from __future__ import annotations

import abc
import ipaddress
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from aiohttp import web

from .._durations import seconds
from .._fifo_cache import FifoCache
from ..tickets import VERSION, InvalidTicket, Ticket, TicketCodec
from .base import AbstractAuthentication, Identity

__all__ = ["TicketPolicyBase", "client_ip", "may_reissue"]

log = logging.getLogger("aiohttp_guard")

Secret = bytes | Sequence[bytes] | TicketCodec

_IDENTITY_CACHE_SIZE: Final = 4096


def client_ip(request: web.BaseRequest) -> str:
    """The client's address in one canonical spelling, so that a ticket bound to
    it matches however the socket reports it (IPv4-mapped IPv6, zero padding).
    Empty when there is no peer address (a Unix socket)."""
    remote = request.remote
    if not remote:
        return ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def may_reissue(response: web.StreamResponse) -> bool:
    """Renew tickets only on success responses whose headers are not yet sent."""
    return 200 <= response.status < 300 and not response.prepared


class TicketPolicyBase(AbstractAuthentication):
    """Options and checks common to the cookie and session ticket policies.

    `accept_legacy=True` also reads aiohttp_auth's tickets, with
    `legacy_secret` when given (the old application's secret, of any length:
    it only ever reads them) or else the ring's keys. It cannot be combined
    with `max_lifetime`: those tickets do not record when their user logged
    in, so they count as logged in at the epoch and no limit counted from
    the login could let one through.
    """

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
        self.include_ip = include_ip
        self.cookie_name = cookie_name
        self._identities: FifoCache[int, tuple[Ticket, Identity]] = FifoCache(
            _IDENTITY_CACHE_SIZE
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(max_age={self.max_age}, "
            f"reissue_time={self.reissue_time}, include_ip={self.include_ip}, "
            f"cookie_name={self.cookie_name!r}, codec={self.codec!r})"
        )

    @abc.abstractmethod
    async def identify(self, request: web.Request) -> Identity | None:
        """The identity in the request's ticket; subclasses say where it is."""

    async def get(self, request: web.Request) -> str | None:
        identity = await self.identify(request)
        return None if identity is None else identity.user_id

    def bound_ip(self, request: web.BaseRequest) -> str | None:
        """The address a ticket of this request is bound to, if the policy binds."""
        return client_ip(request) if self.include_ip else None

    def new_ticket(self, request: web.BaseRequest, user_id: str) -> Ticket:
        return self.ticket_for(user_id, client_ip(request))

    def ticket_for(self, user_id: str, address: str) -> Ticket:
        """A new login ticket for `user_id` on a client at `address` (used
        only when the policy binds tickets to addresses)."""
        return self.codec.issue(
            user_id,
            self.max_age,
            ip=address if self.include_ip else None,
            max_lifetime=self.max_lifetime,
        )

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
        )

    def verify(self, request: web.BaseRequest, text: object) -> Ticket | None:
        """The valid ticket in `text`, or None: bad input never raises."""
        if not isinstance(text, str) or not text:
            return None
        ip = self.bound_ip(request)
        try:
            if self.accept_legacy and not text.startswith(f"{VERSION}."):
                ticket = self.codec.decode_legacy(text, ip=ip, max_age=self.max_age)
            else:
                ticket = self.codec.decode(text, ip=ip)
        except InvalidTicket as exc:
            log.debug("rejected %s ticket: %s", self.cookie_name, exc.reason)
            return None
        if self.max_lifetime is not None:
            limit = ticket.login_ms + round(self.max_lifetime * 1000)
            if self.codec.now_ms() >= limit:
                log.debug("rejected %s ticket: past max_lifetime", self.cookie_name)
                return None
        return ticket

    def needs_reissue(self, ticket: Ticket) -> bool:
        """Renew tickets signed by a retiring key, and those close to expiry."""
        if self.codec.is_retiring(ticket.key_id):
            return True
        if self.reissue_time is None:
            return False
        remaining = ticket.expires_ms - self.codec.now_ms()
        return remaining < self.reissue_time * 1000

    def identity_of(self, ticket: Ticket) -> Identity:
        """The `Identity` a ticket proves; the same object for the same
        (cached) ticket, as a client sends one ticket many times."""
        # Keyed by id(): hashing a Ticket costs more than building an
        # Identity. The entry holds the ticket, so its id is not reused.
        entry = self._identities.get(id(ticket))
        if entry is not None and entry[0] is ticket:
            return entry[1]
        identity = Identity(ticket.user_id, ticket.login_ms, ticket.issued_ms)
        self._identities.put(id(ticket), (ticket, identity))
        return identity

    def challenge(self, request: web.Request) -> str | None:
        return f'Cookie realm="aiohttp_guard", cookie-name="{self.cookie_name}"'
