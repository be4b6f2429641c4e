"""What the library remembers about one request, under one request key.

The service's middleware stores a `RequestState` for each request: the
identity and principals once resolved, and each policy's own notes (a ticket
to reissue, a cookie to write). One key, looked up once, because every
missing-key look-up on an aiohttp request raises and catches a `KeyError`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._compat import request_key

if TYPE_CHECKING:
    from .policies.base import Identity
    from .service import AuthService

__all__ = ["STATE", "RequestState"]


@attrs.define
class RequestState:
    """Per-request cache, so identity and principals are resolved once however
    many guards ask."""

    service: AuthService
    resolved: bool = False
    identity: Identity | None = None
    principals_resolved: bool = False
    principals: frozenset[Hashable] | None = None
    #: Each policy's notes for this request, by policy (see policies._state).
    policies: dict[object, Any] | None = None
    #: The identity whose ticket a policy would renew on this response; the
    #: middleware confirms it is still valid before the renewal is written.
    renewal: Identity | None = None
    #: Set when the renewal must not be written (logout, revocation, outage).
    renewal_refused: bool = False
    #: A ticket was set or cleared: the response must not be stored by caches.
    ticket_changed: bool = False
    #: The middleware has written the response's ticket: too late to change.
    finished: bool = False

    def invalidate(self) -> None:
        self.resolved = self.principals_resolved = False


STATE: Final = request_key("state", RequestState)
