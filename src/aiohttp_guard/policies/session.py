"""Tickets kept in an aiohttp_session session, whatever its storage."""

from __future__ import annotations

from typing import Final, cast

import attrs
from aiohttp import web
from aiohttp_session import (
    STORAGE_KEY,
    AbstractStorage,
    Session,
    get_session,
    new_session,
)

from ..identity import Identity
from ..request_state import RequestState
from ..tickets import Ticket
from ._ticketing import NamedTicketPolicy, may_reissue

__all__ = ["SessionTicketPolicy"]

#: The note of a request that logged in or out.
_WRITTEN: Final = object()


@attrs.frozen
class _Renewal:
    """A ticket to renew, and the session text it was read from."""

    ticket: Ticket
    text: str


@attrs.frozen
class _Logout:
    """The session a logout left, to be emptied in its storage."""

    old: Session


class SessionTicketPolicy(NamedTicketPolicy):
    """A signed ticket stored under `cookie_name` in the aiohttp_session session.

    Any session storage works (`EncryptedCookieStorage`, `RedisStorage`, ...);
    install `aiohttp_session.session_middleware` before the service's
    middleware. `remember` moves the session to a new id so that an id known
    before login is worthless afterwards; anonymous data (a basket, say) and
    data of the same user carry over, another user's never does.

    Args:
        secret: One key (bytes, at least 16), a key ring or a `TicketCodec`.
        max_age: How long a ticket stays valid (seconds or a timedelta).
        reissue_time: Renew a ticket with less than this left, on a
            successful response. Default: never.
        include_ip: Bind tickets to the client's IP address. Default: False.
        cookie_name: The session key that holds the ticket. Default:
            "AUTH_TKT".
        max_lifetime: Bound a login's total life from the login. Default:
            no bound.
        accept_legacy: Also accept aiohttp_auth's tickets. Default: False.
        legacy_secret: The old application's secret. Default: the ring's keys.
    """

    session_name = "session"

    async def identify(self, request: web.Request) -> Identity | None:
        session = await get_session(request)
        text = session.get(self.cookie_name)
        now = self.codec.now_ms()
        known = self.recognize(request, text, now)
        if known is None:
            return None
        identity = known.identity
        if now >= known.renew_from_ms:
            state = RequestState.current(request)
            state.set_note(self, _Renewal(known.ticket, cast("str", text)))
            state.want_renewal(identity)
        return identity

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
        ticket = self.session_ticket_for(request, user_id)
        session[self.cookie_name] = self.codec.encode(ticket)
        RequestState.current(request).set_note(self, _WRITTEN)

    async def forget(self, request: web.Request) -> None:
        """Log out: the session moves to a new, empty one, and the old one is
        emptied in its storage, so that its id is worth nothing afterwards."""
        session = await get_session(request)
        if self.cookie_name not in session:
            return
        session.invalidate()
        # An empty new session is saved only when marked changed.
        (await new_session(request)).changed()
        RequestState.current(request).set_note(self, _Logout(session))

    async def process_response(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        state = RequestState.current(request)
        note = state.note(self, object)
        if note is None:
            return
        if isinstance(note, _Renewal):
            if may_reissue(request, response):
                await self._renew(request, note)
            return
        if response.prepared or not isinstance(response, web.Response):
            # The session middleware cannot save into such a response.
            raise RuntimeError(
                f"the session's login could not be saved: the response to "
                f"{request.path} is streamed. Call remember() or forget() "
                "before StreamResponse.prepare()"
            )
        if isinstance(note, _Logout):
            # The session middleware saves only the new session: the old one
            # is saved here, emptied (its cookie is then replaced).
            storage: AbstractStorage = request[STORAGE_KEY]
            await storage.save_session(request, response, note.old)
        state.note_ticket_change()

    async def _renew(self, request: web.Request, note: _Renewal) -> None:
        session = await get_session(request)
        # Renew only the ticket this request identified: a login or logout
        # since then has the last word, whether this request made it (a
        # sub-application's service too) or another one, which a server-side
        # storage shows: this request's copy of the session predates it.
        if session.get(self.cookie_name) != note.text:
            return
        storage: AbstractStorage = request[STORAGE_KEY]
        stored = await storage.load_session(request)
        if stored.get(self.cookie_name) != note.text:
            return
        renewal = self.renewal(note.ticket)
        if renewal is None:
            return
        session[self.cookie_name] = renewal[1]
        RequestState.current(request).note_ticket_change()
        self.audit_renewal(request, note.ticket)

    def challenge(self, request: web.Request) -> str | None:
        return 'Cookie realm="aiohttp_guard"'
