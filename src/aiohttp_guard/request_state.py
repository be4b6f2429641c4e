"""What the library keeps about one request: one object, under one request key.

The service's middleware stores a `RequestContext` there (a `RequestState`
that also resolves who the request comes from). A policy, or the
aiohttp_auth `acl_middleware`, running where no service has run yet finds a
bare `RequestState`, made on first use, which the service's context then
takes as its `outer` state. Each sub-application's service stores a context
of its own while its part of the request runs, with the outer one as its
`outer`, and gives the outer one back afterwards.

Notes are kept per owner (a policy object, a policy chain, the legacy ACL
layer), so that two policies of one class, or two services' policies, never
read each other's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

from aiohttp import web

from ._compat import request_key
from .identity import Identity

__all__ = ["STATE", "RequestState"]

T = TypeVar("T")


class RequestState:
    """Per-request notes, and what the request did to its ticket."""

    __slots__ = (
        "_notes",
        "finished",
        "outer",
        "renewal",
        "renewal_refused",
        "starting_session",
        "ticket_changed",
    )

    def __init__(self, outer: RequestState | None = None) -> None:
        #: The state this one stands in for (an outer service's), if any.
        self.outer = outer
        # Made by the first note: most requests' policies note nothing.
        self._notes: dict[object, Any] | None = None
        #: The identity whose ticket a policy would renew on this response;
        #: the middleware confirms it is still valid before it is written.
        self.renewal: Identity | None = None
        #: The renewal must not be written (logout, revocation, outage).
        self.renewal_refused = False
        #: A ticket was set or cleared: the response must not be cached.
        self.ticket_changed = False
        #: The response's ticket is written: too late to change it.
        self.finished = False
        #: The id of the login session a `remember` under way starts, for
        #: the policy to put in the credential it issues.
        self.starting_session: str | None = None

    @staticmethod
    def current(request: web.BaseRequest) -> RequestState:
        """The request's state: the service's context, or else a bare state
        made now (a policy used without the service)."""
        # Indexed, not `request_get`: once the middleware has run (nearly
        # always) this is a hit, which a try costs nothing on.
        try:
            return request[STATE]
        except KeyError:
            state = request[STATE] = RequestState()
            return state

    @staticmethod
    def note_of(request: web.BaseRequest, owner: object, kind: type[T]) -> T | None:
        """`owner`'s note on the request when it is a `kind`, else None:
        `current(request).note(owner, kind)` without making a state to read
        nothing from, and with one call fewer, which a policy makes twice
        per request (benchmarks.inprocess, 2026-12-01)."""
        try:
            state = request[STATE]
        except KeyError:
            return None
        return state.note(owner, kind)

    def note(self, owner: object, kind: type[T]) -> T | None:
        """`owner`'s note on this request when it is a `kind`, else None."""
        notes = self._notes
        if notes is None:
            return None
        value = notes.get(owner)
        return value if isinstance(value, kind) else None

    def note_or_new(self, owner: object, kind: Callable[[], T]) -> T:
        """`owner`'s note on this request, made by `kind()` the first time."""
        notes = self._writable_notes()
        if owner not in notes:
            notes[owner] = kind()
        value: T = notes[owner]
        return value

    def set_note(self, owner: object, value: object) -> None:
        self._writable_notes()[owner] = value

    def _writable_notes(self) -> dict[object, Any]:
        """The notes, made now if this is the request's first."""
        notes = self._notes
        if notes is None:
            notes = self._notes = {}
        return notes

    def chain(self) -> Iterator[RequestState]:
        """This state, then the ones it stands in for, innermost first."""
        state: RequestState | None = self
        while state is not None:
            yield state
            state = state.outer

    def want_renewal(self, identity: Identity) -> None:
        """The ticket proving `identity` should be renewed: the service
        confirms, when the response is written, that it is still valid."""
        self.renewal = identity

    def may_renew(self) -> bool:
        """False once the service found the identity to renew no longer
        valid (logged out, revoked, or the revocation store did not answer)."""
        return not self.renewal_refused

    def note_ticket_change(self) -> None:
        """The response sets or clears a ticket: keep it from shared caches."""
        self.ticket_changed = True


STATE: Final = request_key("state", RequestState)
