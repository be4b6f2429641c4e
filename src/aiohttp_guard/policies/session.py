"""Tickets kept in an aiohttp_session session, whatever its storage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from aiohttp import web
from aiohttp_session import get_session, new_session

from ..tickets import Ticket
from ._state import peek_state, set_state
from ._ticketing import Secret, TicketPolicyBase, may_reissue
from .base import Identity

__all__ = ["SessionTicketPolicy"]


class SessionTicketPolicy(TicketPolicyBase):
    """A signed ticket stored under `cookie_name` in the aiohttp_session session.

    Any session storage works (`EncryptedCookieStorage`, `RedisStorage`, ...);
    install `aiohttp_session.session_middleware` before the service's
    middleware. `remember` moves the session to a new id so that an id known
    before login is worthless afterwards; anonymous data (a basket, say) and
    data of the same user carry over, another user's never does. The options
    mean what they mean for `CookieTicketPolicy`.
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
        super().__init__(
            secret,
            max_age,
            reissue_time,
            include_ip,
            cookie_name,
            max_lifetime=max_lifetime,
            accept_legacy=accept_legacy,
            legacy_secret=legacy_secret,
        )

    async def identify(self, request: web.Request) -> Identity | None:
        session = await get_session(request)
        ticket = self.verify(request, session.get(self.cookie_name))
        if ticket is None:
            return None
        if self.needs_reissue(ticket):
            set_state(request, self, ticket)
        return self.identity_of(ticket)

    async def remember(self, request: web.Request, user_id: str) -> None:
        old = await get_session(request)
        previous = old.get(self.cookie_name)
        carried = dict(old)
        if previous is not None:
            ticket = self.verify(request, previous)
            if ticket is None or ticket.user_id != user_id:
                carried = {}
        session = await new_session(request)
        session.update(carried)
        session[self.cookie_name] = self.codec.encode(self.new_ticket(request, user_id))
        set_state(request, self, None)

    async def forget(self, request: web.Request) -> None:
        session = await get_session(request)
        session.pop(self.cookie_name, None)
        set_state(request, self, None)

    async def process_response(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        ticket = peek_state(request, self)
        if isinstance(ticket, Ticket) and may_reissue(response):
            session = await get_session(request)
            session[self.cookie_name] = self.codec.encode(self.renewed(ticket))

    def challenge(self, request: web.Request) -> str | None:
        return 'Cookie realm="aiohttp_guard"'
