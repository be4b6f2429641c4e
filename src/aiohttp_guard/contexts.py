"""Where a guard finds its ACL: fixed, or computed from the request.

A context is an `ACL`, a plain sequence of entries (compiled once, when the
guard is made), or a callable taking the request and returning either, sync or
async, for resources whose ACL depends on the request (the owner of a
document, say). Return an `ACL` from such callables when it can be reused:
a plain sequence is compiled again on every call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeAlias, TypeVar, cast

from aiohttp import web

from ._maybe_await import maybe_await
from .access_control import ACE, ACL, EntryTuple

__all__ = [
    "AnyContextFactory",
    "Context",
    "ContextFactory",
    "ContextValue",
    "acl_of",
    "resolve_context",
    "static_acl",
]

P = TypeVar("P", bound=Hashable)

#: What a context gives: an ACL, or entries to compile into one.
ContextValue: TypeAlias = ACL[P] | Sequence[ACE[P] | EntryTuple[P]]
#: A context computed from the request, sync or async.
ContextFactory: TypeAlias = Callable[
    [web.Request], ContextValue[P] | Awaitable[ContextValue[P]]
]
#: Anything a guard accepts as the ACL to check against.
Context: TypeAlias = ContextValue[P] | ContextFactory[P]
#: A context computed from the request, typed without its permission type.
AnyContextFactory: TypeAlias = Callable[[web.Request], Any]

# `Requires(permission, context)` and `AuthService.permits` are overloaded on
# `ContextValue[P]`, `ContextFactory[P]` and `AnyContextFactory`, in that
# order: mypy then infers the permission type from a fixed context and checks
# the permission against it, which it cannot do through the union `Context`.
# From a callable context mypy cannot infer it: the last overload accepts one
# unchecked, and `Requires[Perm](...)` has it checked.


def acl_of(value: object) -> ACL[Any]:
    """What a context gives, as an ACL: an `ACL` itself, or a sequence of
    entries compiled now. Anything else (a set of entries has no order) is a
    `TypeError`."""
    if isinstance(value, ACL):
        return cast("ACL[Any]", value)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(
            "an ACL context must be an ACL, a sequence of entries, or a callable "
            f"returning one; got {type(value).__name__}"
        )
    return ACL(cast("Sequence[Any]", value))


def static_acl(context: Context[P]) -> ACL[P] | None:
    """The compiled ACL of a fixed context; None for a callable one."""
    return None if callable(context) else acl_of(context)


async def resolve_context(context: Context[P], request: web.Request) -> ACL[P]:
    """The ACL that `context` gives for `request`."""
    if callable(context):
        return acl_of(await maybe_await(context(request)))
    return acl_of(context)
