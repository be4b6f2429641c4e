"""Tickets kept in a cookie of their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

import attrs
from aiohttp import hdrs, web

from ..identity import Identity
from ..request_state import RequestState
from ..tickets import Ticket
from ._cookie_header import cookie_value
from ._ticketing import NamedTicketPolicy, Secret, may_reissue

__all__ = ["CookieTicketPolicy"]

_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


@attrs.define
class _CookieState:
    """What this request did to the cookie: `written` after remember/forget
    (with the new ticket, or None to delete), `renew` when the ticket it
    carried should be reissued."""

    written: bool = False
    ticket: Ticket | None = None
    renew: Ticket | None = None


class CookieTicketPolicy(NamedTicketPolicy):
    """A signed ticket in an `HttpOnly`, `SameSite=Lax` cookie.

    Args:
        secret: One key (bytes, at least 16), a key ring (the first key
            signs, every one verifies) or a ready `TicketCodec`.
        max_age: How long a ticket stays valid, and the cookie's Max-Age:
            seconds or a timedelta.
        reissue_time: A ticket with less than this left (seconds or a
            timedelta) is replaced by a fresh one on a successful response.
            Default: never.
        include_ip: Bind tickets to the client's IP address. Default: False.
        cookie_name: The cookie's name. Default: "AUTH_TKT".
        secure: Mark the cookie Secure; None (the default) marks it on HTTPS
            requests. `__Secure-` and `__Host-` names need True.
        httponly: Hide the cookie from scripts. Default: True.
        samesite: "Lax" (the default), "Strict", "None" (which needs a
            Secure cookie) or None to leave the attribute out.
        path: The cookie's Path. Default: "/".
        domain: The cookie's Domain. Default: none (this host only).
        max_lifetime: Bound a login's total life from the login, however
            often its ticket is reissued (seconds or a timedelta). Default:
            no bound.
        accept_legacy: Also accept tickets made by aiohttp_auth, for the time
            of a migration, and reissue them in the current format. Default:
            False.
        legacy_secret: The old application's secret, which only reads
            aiohttp_auth's tickets. Default: the ring's keys.
    """

    session_name = "cookie"

    def __init__(
        self,
        secret: Secret,
        max_age: float | timedelta,
        reissue_time: float | timedelta | None = None,
        include_ip: bool = False,
        cookie_name: str = "AUTH_TKT",
        *,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: Literal["Lax", "Strict", "None"] | None = "Lax",
        path: str = "/",
        domain: str | None = None,
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
        if samesite not in ("Lax", "Strict", "None", None):
            raise ValueError(
                f"samesite must be 'Lax', 'Strict' or 'None', not {samesite!r}"
            )
        if samesite == "None" and secure is not True:
            # With secure=None the cookie would go out without Secure over
            # plain HTTP, where browsers drop it: the login would not stick.
            raise ValueError(
                "samesite='None' needs secure=True: browsers drop SameSite=None "
                "cookies that are not Secure"
            )
        if cookie_name.startswith(("__Secure-", "__Host-")) and secure is not True:
            raise ValueError(
                f"a {cookie_name.split('-', maxsplit=1)[0]}- cookie needs secure=True"
            )
        if cookie_name.startswith("__Host-") and (path != "/" or domain is not None):
            raise ValueError("a __Host- cookie needs path='/' and no domain")
        self.secure = secure
        self.httponly = httponly
        self.samesite = samesite
        self.path = path
        self.domain = domain

    def _state(self, request: web.Request) -> _CookieState:
        return RequestState.current(request).note_or_new(self, _CookieState)

    async def identify(self, request: web.Request) -> Identity | None:
        state = RequestState.note_of(request, self, _CookieState)
        if state is not None and state.written:
            return None if state.ticket is None else self.identity_of(state.ticket)
        header = request.headers.get(hdrs.COOKIE)
        if not header:
            return None
        now = self.codec.now_ms()
        known = self.recognize(request, cookie_value(header, self.cookie_name), now)
        if known is None:
            return None
        identity = known.identity
        if now >= known.renew_from_ms:
            self._state(request).renew = known.ticket
            RequestState.current(request).want_renewal(identity)
        return identity

    async def remember(self, request: web.Request, user_id: str) -> None:
        state = self._state(request)
        state.written, state.ticket, state.renew = (
            True,
            self.session_ticket_for(request, user_id),
            None,
        )

    async def forget(self, request: web.Request) -> None:
        state = self._state(request)
        state.written, state.ticket, state.renew = True, None, None

    async def process_response(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        state = RequestState.note_of(request, self, _CookieState)
        if state is None:
            return
        request_state = RequestState.current(request)
        if state.written:
            if response.prepared:
                raise RuntimeError(
                    f"the {self.cookie_name} cookie could not be "
                    f"{'set' if state.ticket else 'deleted'}: the response to "
                    f"{request.path} had already started when the handler "
                    "logged in or out. Call remember() or forget() before "
                    "StreamResponse.prepare()"
                )
            if state.ticket is None:
                self._set_cookie(request, response, "", max_age=0, expires=_EPOCH)
            else:
                self._send(request, response, state.ticket)
            request_state.note_ticket_change()
        elif (
            state.renew is not None
            and may_reissue(request, response)
            # Another service on this response (a sub-application's) has
            # written this cookie already: a login or logout has the last word.
            and self.cookie_name not in response.cookies
        ):
            renewal = self.renewal(state.renew)
            if renewal is None:
                return
            self._send(request, response, *renewal)
            request_state.note_ticket_change()
            self.audit_renewal(request, state.renew)

    def _send(
        self,
        request: web.Request,
        response: web.StreamResponse,
        ticket: Ticket,
        text: str | None = None,
    ) -> None:
        """Set the cookie to `ticket` (whose `text` may be encoded already)."""
        max_age = max(0, (ticket.expires_ms - ticket.issued_ms) // 1000)
        if text is None:
            text = self.codec.encode(ticket)
        self._set_cookie(request, response, text, max_age=max_age)

    def _set_cookie(
        self,
        request: web.Request,
        response: web.StreamResponse,
        value: str,
        *,
        max_age: int,
        expires: str | None = None,
    ) -> None:
        response.set_cookie(
            self.cookie_name,
            value,
            max_age=max_age,
            expires=expires,
            path=self.path,
            domain=self.domain,
            secure=request.secure if self.secure is None else self.secure,
            httponly=self.httponly,
            samesite=self.samesite,
        )

    def challenge(self, request: web.Request) -> str | None:
        return f'Cookie realm="aiohttp_guard", cookie-name="{self.cookie_name}"'
