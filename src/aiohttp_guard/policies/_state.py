"""Per-request notes of each policy instance.

Under the service's middleware they live in its `RequestState` (one look-up
for everything); a policy called without it (a hand-made middleware, a
mocked request) keeps them under a request key of its own. Either way they
are keyed by policy, as an app may hold several policies of one class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from aiohttp import web

from .._compat import request_get, request_key
from .._request_state import STATE

if TYPE_CHECKING:
    from aiohttp.web import RequestKey

    from .base import Identity

__all__ = [
    "get_state",
    "note_ticket_change",
    "peek_state",
    "renewal_allowed",
    "set_state",
    "want_renewal",
]

T = TypeVar("T")

_STATES: Final = cast(
    "RequestKey[dict[object, Any]]", request_key("policy_states", dict)
)


def _notes(request: web.BaseRequest) -> dict[object, Any] | None:
    state = request_get(request, STATE)
    if state is not None:
        return state.policies
    notes: dict[object, Any] | None = request_get(request, _STATES)
    return notes


def _writable_notes(request: web.BaseRequest) -> dict[object, Any]:
    state = request_get(request, STATE)
    if state is not None:
        if state.policies is None:
            state.policies = {}
        return state.policies
    notes: dict[object, Any] | None = request_get(request, _STATES)
    if notes is None:
        notes = request[_STATES] = {}
    return notes


def get_state(request: web.BaseRequest, policy: object, default: Callable[[], T]) -> T:
    """`policy`'s state for this request, made by `default()` the first time."""
    notes = _writable_notes(request)
    if policy not in notes:
        notes[policy] = default()
    state: T = notes[policy]
    return state


def peek_state(request: web.BaseRequest, policy: object) -> object:
    """`policy`'s state for this request, or None."""
    notes = _notes(request)
    return None if notes is None else notes.get(policy)


def set_state(request: web.BaseRequest, policy: object, value: object) -> None:
    _writable_notes(request)[policy] = value


def want_renewal(request: web.BaseRequest, identity: Identity) -> None:
    """Say that the ticket proving `identity` should be renewed: the service
    confirms, when the response is written, that it is still valid."""
    state = request_get(request, STATE)
    if state is not None:
        state.renewal = identity


def renewal_allowed(request: web.BaseRequest) -> bool:
    """False once the service has found the identity to renew no longer valid
    (logged out, revoked, or the revocation store did not answer)."""
    state = request_get(request, STATE)
    return state is None or not state.renewal_refused


def note_ticket_change(request: web.BaseRequest) -> None:
    """Record that the response sets or clears a ticket, so that the service
    marks it as not to be stored by shared caches."""
    state = request_get(request, STATE)
    if state is not None:
        state.ticket_changed = True
