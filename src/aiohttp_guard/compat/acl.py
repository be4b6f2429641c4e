"""aiohttp_auth's `acl` functions, kept working on the new service.

Exposed as `aiohttp_guard.acl`. The differences from the new API are the
documented old behaviours: the principal set holds the bare user id (not
`User(user_id)`), refusals are a plain `HTTPForbidden`, and a context may be a
zero-argument callable.

`setup(app, groups_callback)` comes from the fork aiohttp_auth_autz, which
took the bare user id out of the principal set (a user named like a group
would have had the group's permissions): a callback given to `setup` gets
the fork's set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from typing import Any, Final, ParamSpec, TypeAlias, TypeVar

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .._maybe_await import maybe_await
from ..access_control import ACL
from ..authenticator import SERVICE, Groups
from ..contexts import acl_of
from ..guards import BaseGuard
from ..principals import AuthenticatedUser, principal_set
from ..refusals import audited
from ..request_context import RequestContext
from ..request_state import RequestState

__all__ = [
    "acl_middleware",
    "acl_required",
    "get_permitted",
    "get_user_groups",
    "setup",
]

P = ParamSpec("P")
R = TypeVar("R")

#: The old group callback: `async def callback(user_id) -> groups or None`.
GroupCallback: TypeAlias = Callable[[str | None], Groups | Awaitable[Groups]]
#: An old context: a sequence of entries, or a zero-argument callable giving one.
LegacyContext: TypeAlias = Sequence[Any] | Callable[[], Sequence[Any]]

# The notes of this module on a request: each app's callback, by the app
# whose middlewares list `acl_middleware`, and the groups last computed. A
# service reads the callback of its own app (or of a sub-application below it
# without a service of its own), never one of a parent app, whose service it
# belongs to.
_CALLBACKS: Final = object()
_GROUPS: Final = object()


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
        callbacks = RequestState.current(request).note_or_new(_CALLBACKS, _Callbacks)
        callbacks[request.match_info.current_app] = callback
        return await handler(request)

    return middleware


@attrs.frozen
class _ForkCallback:
    """A callback given to `setup`: its users are not principals by their
    bare user id, as in aiohttp_auth_autz."""

    callback: GroupCallback

    def __call__(self, user_id: str | None) -> Groups | Awaitable[Groups]:
        return self.callback(user_id)


def setup(app: web.Application, groups_callback: GroupCallback) -> None:
    """aiohttp_auth_autz's `acl.setup(app, groups_callback)`: `acl_middleware`
    appended to `app`'s middlewares, with the fork's principals: the
    callback's groups, `Everyone`, and `AuthenticatedUser` when logged in,
    without the bare user id."""
    app.middlewares.append(acl_middleware(_ForkCallback(groups_callback)))


class _Callbacks(dict[web.Application, GroupCallback]):
    """The callbacks a request's `acl_middleware`s set, by app."""


def _callback(context: RequestContext) -> GroupCallback | None:
    """The callback of the innermost app at or below the context's service's
    own app. An `acl_middleware` listed before the service's middleware
    noted it in the state the context stands in for."""
    found = [
        callbacks
        for state in context.chain()
        if (callbacks := state.note(_CALLBACKS, _Callbacks)) is not None
    ]
    if not found:
        return None
    for app in reversed(context.request.match_info.apps):
        for callbacks in found:
            callback = callbacks.get(app)
            if callback is not None:
                return callback
        if app.get(SERVICE) is context.authenticator:
            break
    return None


async def get_user_groups(request: web.Request) -> frozenset[Hashable] | None:
    """The request's groups as aiohttp_auth computed them: the callback's groups
    plus `Everyone`, and `AuthenticatedUser` and the bare user id when logged
    in (without the bare user id for a callback given to `setup`); None when
    the callback returns None. Without `acl_middleware`, the
    service's `groups` resolver stands in for the callback. They are kept for
    the rest of the request, for as long as its user stays the same: a login
    or logout in the handler is seen."""
    context = RequestContext.of(request)
    user_id = await context.user_id()
    callback = _callback(context)
    known = context.note(_GROUPS, _KnownGroups)
    if known is not None and known.user_id == user_id and known.callback is callback:
        return known.principals
    if callback is None:
        groups = await context.authenticator.resolve_groups(user_id)
    else:
        groups = await maybe_await(callback(user_id))
    if isinstance(callback, _ForkCallback):
        principals = principal_set(groups, None)
        if principals is not None and user_id is not None:
            principals |= {AuthenticatedUser}
    else:
        # The bare user id, as aiohttp_auth had it, not `User(user_id)`.
        principals = principal_set(groups, user_id)
    context.set_note(_GROUPS, _KnownGroups(callback, user_id, principals))
    return principals


def _legacy_acl_of(context: LegacyContext) -> ACL[Any]:
    """The ACL of an old context, which may be a zero-argument callable."""
    return acl_of(context() if callable(context) else context)


async def get_permitted(
    request: web.Request, permission: Hashable, context: LegacyContext
) -> bool:
    """Whether the request's groups have `permission` in `context`."""
    acl = _legacy_acl_of(context)
    return bool(acl.permits(await get_user_groups(request), permission))


class _LegacyRequires(BaseGuard[None]):
    """aiohttp_auth's check: the permission, else a plain 403."""

    __slots__ = ("_acl", "_context", "_permission")

    def __init__(self, permission: Hashable, context: LegacyContext) -> None:
        self._permission = permission
        self._context = context
        # A fixed context is compiled once; a callable one on every request.
        self._acl = None if callable(context) else acl_of(context)

    def __repr__(self) -> str:
        return f"acl_required({self._permission!r}, ...)"

    async def check(self, request: web.Request) -> None:
        acl = self._acl if self._acl is not None else _legacy_acl_of(self._context)
        if not acl.permits(await get_user_groups(request), self._permission):
            raise audited(web.HTTPForbidden(), f"{self._permission!r} is not permitted")


def acl_required(
    permission: Hashable, context: LegacyContext
) -> Callable[
    [Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]
]:
    """Refuse requests without `permission` in `context` with `HTTPForbidden`."""
    return _LegacyRequires(permission, context)
