"""Per-request state of each policy instance.

One module-level request key holds a dict keyed by policy: aiohttp's typed
request keys are meant to be made at import time (making one later, from a
thread, fails), and an app may hold several policies of one class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from aiohttp import web

from .._compat import request_get, request_key

__all__ = ["get_state", "peek_state", "set_state"]

T = TypeVar("T")

_STATES: Final = request_key("policy_states", dict)


def _states(request: web.BaseRequest) -> dict[object, Any]:
    states: dict[object, Any] | None = request_get(request, _STATES)
    if states is None:
        states = request[_STATES] = {}
    return states


def get_state(request: web.BaseRequest, policy: object, default: Callable[[], T]) -> T:
    """`policy`'s state for this request, made by `default()` the first time."""
    states = _states(request)
    if policy not in states:
        states[policy] = default()
    state: T = states[policy]
    return state


def peek_state(request: web.BaseRequest, policy: object) -> object:
    """`policy`'s state for this request, or None."""
    states: dict[object, Any] | None = request_get(request, _STATES)
    return None if states is None else states.get(policy)


def set_state(request: web.BaseRequest, policy: object, value: object) -> None:
    _states(request)[policy] = value
