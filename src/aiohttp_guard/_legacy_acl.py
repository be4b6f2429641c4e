"""aiohttp_auth's `acl` functions, kept working on the new service.

Exposed as `aiohttp_guard.acl`. The differences from the new API are the
documented old behaviours: the principal set holds the bare user id (not
`User(user_id)`), refusals are a plain `HTTPForbidden`, and a context may be a
zero-argument callable.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeAlias, TypeVar, cast

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ._acl import ACL
from ._compat import request_get, request_key
from .guards import BaseGuard
from .permissions import AuthenticatedUser, Everyone
from .policies._state import peek_state, set_state
from .service import AuthService, Groups, service_on

if TYPE_CHECKING:
    from aiohttp.web import RequestKey

__all__ = ["acl_middleware", "acl_required", "get_permitted", "get_user_groups"]

P = ParamSpec("P")
R = TypeVar("R")

#: The old group callback: `async def callback(user_id) -> groups or None`.
GroupCallback: TypeAlias = Callable[[str | None], Groups | Awaitable[Groups]]
#: An old context: a sequence of entries, or a zero-argument callable giving one.
LegacyContext: TypeAlias = Sequence[Any] | Callable[[], Sequence[Any]]

# Each app's callback, by the app whose middlewares list `acl_middleware`: a
# service reads the callback of its own app (or of a sub-application below it
# without a service of its own), never one of a parent app, whose service
# it belongs to.
_CALLBACKS: Final = cast(
    "RequestKey[dict[web.Application, GroupCallback]]",
    request_key("acl.callbacks", dict),
)
_GROUPS_NOTE: Final = object()


@attrs.frozen
class _KnownGroups:
    callback: GroupCallback | None
    user_id: str | None
    principals: frozenset[Hashable] | None


def acl_middleware(callback: GroupCallback) -> Middleware:
    """A middleware that makes `callback` the request's group callback; list it
    after `auth.auth_middleware(policy)`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        callbacks = request_get(request, _CALLBACKS)
        if callbacks is None:
            callbacks = request[_CALLBACKS] = {}
        callbacks[request.match_info.current_app] = callback
        return await handler(request)

    return middleware


def _callback(request: web.Request, service: AuthService) -> GroupCallback | None:
    """The callback of the innermost app at or below `service`'s own app."""
    callbacks = request_get(request, _CALLBACKS)
    if not callbacks:
        return None
    for app in reversed(request.match_info.apps):
        callback = callbacks.get(app)
        if callback is not None:
            return callback
        if service_on(app) is service:
            break
    return None


async def get_user_groups(request: web.Request) -> frozenset[Hashable] | None:
    """The request's groups as aiohttp_auth computed them: the callback's groups
    plus `Everyone`, and `AuthenticatedUser` and the bare user id when logged
    in; None when the callback returns None. Without `acl_middleware`, the
    service's `groups` resolver stands in for the callback. They are kept for
    the rest of the request, for as long as its user stays the same: a login
    or logout in the handler is seen."""
    service = AuthService.of(request)
    user_id = await service.identify(request)
    callback = _callback(request, service)
    known = peek_state(request, _GROUPS_NOTE)
    if (
        isinstance(known, _KnownGroups)
        and known.user_id == user_id
        and known.callback is callback
    ):
        return known.principals
    if callback is None:
        groups = await service.resolve_groups(user_id)
    else:
        answer = callback(user_id)
        groups = await answer if inspect.isawaitable(answer) else answer
    principals = _principals(groups, user_id)
    set_state(request, _GROUPS_NOTE, _KnownGroups(callback, user_id, principals))
    return principals


def _principals(
    groups: Iterable[Hashable] | None, user_id: str | None
) -> frozenset[Hashable] | None:
    if groups is None:
        return None
    if isinstance(groups, str | bytes):
        raise TypeError(
            f"the group callback returned {groups!r}: return a tuple of groups"
        )
    if user_id is None:
        return frozenset((*groups, Everyone))
    return frozenset((*groups, Everyone, AuthenticatedUser, user_id))


def _acl_of(context: LegacyContext) -> ACL[Any]:
    # An ACL may come in place of the entries, from a callable or not.
    entries: object = context() if callable(context) else context
    if isinstance(entries, ACL):
        return cast("ACL[Any]", entries)
    return ACL(cast("Sequence[Any]", entries))  # pyright: ignore[reportUnnecessaryCast]


async def get_permitted(
    request: web.Request, permission: Hashable, context: LegacyContext
) -> bool:
    """Whether the request's groups have `permission` in `context`."""
    return bool(_acl_of(context).permits(await get_user_groups(request), permission))


class _LegacyRequires(BaseGuard[None]):
    """aiohttp_auth's check: the permission, else a plain 403."""

    __slots__ = ("_acl", "_context", "_permission")

    def __init__(self, permission: Hashable, context: LegacyContext) -> None:
        self._permission = permission
        self._context = context
        # A fixed context is compiled once; a callable one on every request.
        self._acl = None if callable(context) else _acl_of(context)

    def __repr__(self) -> str:
        return f"acl_required({self._permission!r}, ...)"

    async def check(self, request: web.Request) -> None:
        acl = self._acl if self._acl is not None else _acl_of(self._context)
        if not acl.permits(await get_user_groups(request), self._permission):
            raise web.HTTPForbidden()


def acl_required(
    permission: Hashable, context: LegacyContext
) -> Callable[
    [Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]
]:
    """Refuse requests without `permission` in `context` with `HTTPForbidden`."""
    return _LegacyRequires(permission, context)
