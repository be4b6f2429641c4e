"""Guards: objects that prove something about a request or refuse it.

`await guard(request)` returns what the guard proved (`Authenticated()` returns
the user id) or raises the service's refusal. The same object protects a
function handler or a `web.View` method as a decorator, and a whole `web.View`
class as a class attribute (any name that is not an HTTP method, usually
`guard`) or as a class decorator, on the view or on any of its bases or mixins:
every class guard in the view's MRO runs (see `_views`).
"""

from __future__ import annotations

import abc
import enum
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from datetime import timedelta
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from aiohttp import hdrs, web

from ._durations import seconds
from ._guard_names import describe
from ._missing_service import note_missing_service
from ._views import (
    GuardBase,
    declare_attribute_guard,
    declare_class_guard,
    mark_guarded,
)
from .access_control import Decision
from .contexts import (
    AnyContextFactory,
    Context,
    ContextFactory,
    ContextValue,
    resolve_context,
    static_acl,
)
from .request_context import RequestContext

log = logging.getLogger("aiohttp_guard")

__all__ = [
    "AllOf",
    "AnyOf",
    "Authenticated",
    "BaseGuard",
    "Guard",
    "Public",
    "Requires",
]

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")
U = TypeVar("U")
Perm = TypeVar("Perm", bound=Hashable)
P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")

_HTTP_METHOD_NAMES = frozenset(m.lower() for m in hdrs.METH_ALL)


class Guard(Protocol[T_co]):
    """Anything that, awaited with a request, proves a `T_co` or raises.

    Every `BaseGuard` is one, and so is a plain `async def (request) -> T`.
    """

    def __call__(self, request: web.Request, /) -> Awaitable[T_co]: ...


class BaseGuard(GuardBase, abc.ABC, Generic[T]):
    """Base of the library's guards: implement `check`; calling, decorating and
    class-attribute use come with it."""

    __slots__ = ()

    @abc.abstractmethod
    async def check(self, request: web.Request) -> T:
        """Return what this guard proves about `request`, or raise a refusal."""

    @overload
    def __call__(self, target: web.Request, /) -> Coroutine[Any, Any, T]: ...
    # A class is returned as it is (its guard is recorded on it), even one
    # whose instances would be coroutines.
    @overload
    def __call__(self, target: type[C], /) -> type[C]: ...  # type: ignore[overload-overlap]
    @overload
    def __call__(
        self, target: Callable[P, Coroutine[Any, Any, R]], /
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __call__(self, target: object, /) -> Any:
        if isinstance(target, web.BaseRequest):
            return self.check(target)  # type: ignore[arg-type]
        if isinstance(target, type):
            declare_class_guard(target, self)
            return target
        if callable(target):
            _refuse_plain_function(target)
            return _guarded(
                self, cast("Callable[..., Coroutine[Any, Any, Any]]", target)
            )
        raise TypeError(
            f"{type(self).__name__} guards a request, a handler or a web.View, "
            f"not {type(target).__name__}"
        )

    def __or__(self, other: Guard[U]) -> AnyOf[T | U]:
        """`a | b`: either guard suffices."""
        return AnyOf(self, other)

    def __and__(self, other: Guard[U]) -> AllOf:
        """`a & b`: both guards must pass."""
        return AllOf(self, other)

    def __set_name__(self, owner: type, name: str) -> None:
        if name.startswith("__") and name.endswith("__"):
            raise TypeError(
                f"guard attribute {owner.__name__}.{name} has a dunder name, "
                "which Python keeps for itself, so the guard would never run: "
                "name it 'guard'"
            )
        if name.lower() in _HTTP_METHOD_NAMES:
            raise TypeError(
                f"guard attribute {owner.__name__}.{name} is named like an HTTP "
                f"method, so aiohttp would route {name.upper()} requests to it: "
                "name it 'guard'"
            )
        declare_attribute_guard(owner)


def _request_of(args: tuple[Any, ...]) -> web.Request:
    """The request a handler was called with: its first argument, the request of
    a `web.View`, or the argument after `self` of a method."""
    first = args[0] if args else None
    if type(first) is web.Request:  # a function handler's: no ABC check
        return first
    for arg in args[:2]:
        if isinstance(arg, web.BaseRequest):
            return arg  # type: ignore[return-value]
        if isinstance(arg, web.View):
            return arg.request
    raise TypeError("a guarded handler must be called with a request or a web.View")


def _refuse_plain_function(target: object) -> None:
    """A plain `def` handler under a guard would answer every request with a
    500 (its result is awaited): refuse it when decorated. A `def` wrapper of
    an `async def` (`functools.wraps`) is a coroutine function unwrapped."""
    if inspect.isfunction(target) and not (
        inspect.iscoroutinefunction(target)
        or inspect.iscoroutinefunction(inspect.unwrap(target))
    ):
        raise TypeError(
            f"{target.__qualname__} is a plain function: aiohttp_guard guards "
            "async handlers; define it with 'async def'"
        )


def _guarded(
    guard: BaseGuard[Any], handler: Callable[P, Coroutine[Any, Any, R]]
) -> Callable[P, Coroutine[Any, Any, R]]:
    if guard.checks_nothing:  # `Public()`: it marks the route, and that is all
        # No check to run, nor a request to find for it: 0.3 us of each
        # request to a public route (benchmarks.versions, 2026-12-01).
        @functools.wraps(handler)
        async def opened(*args: P.args, **kwargs: P.kwargs) -> R:
            return await handler(*args, **kwargs)

        mark_guarded(opened, guard)
        return opened

    @functools.wraps(handler)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        request = _request_of(args)
        try:
            await guard.check(request)
        except RuntimeError as error:
            note_missing_service(error, request, guard)
            raise
        return await handler(*args, **kwargs)

    mark_guarded(guarded, guard)
    return guarded


class Authenticated(BaseGuard[str]):
    """Lets through requests from a logged-in user, proving their user id.

    Others get the service's unauthenticated answer.

    Args:
        fresh_within: The user must also have logged in (not merely had
            their ticket reissued) this recently, by the clock of the policy
            that issued the ticket: seconds or a timedelta, positive. Ask it
            of sensitive actions such as changing a password. Default: any
            login.
    """

    __slots__ = ("_fresh_ms",)

    def __init__(self, *, fresh_within: timedelta | float | None = None) -> None:
        self._fresh_ms: int | None = None
        if fresh_within is not None:
            secs = seconds(fresh_within, "fresh_within")
            if secs == 0:
                raise ValueError("fresh_within must be a positive duration")
            self._fresh_ms = round(secs * 1000)

    def __repr__(self) -> str:
        if self._fresh_ms is None:
            return "Authenticated()"
        return f"Authenticated(fresh_within={timedelta(milliseconds=self._fresh_ms)!r})"

    async def check(self, request: web.Request) -> str:
        context = RequestContext.of(request)
        identity = await context.identity()
        if identity is None:
            raise context.unauthenticated()
        if self._fresh_ms is not None:
            # The login time was set by the policy's clock: read the same one.
            login = identity.login_ms
            now = context.authenticator.policy.now_ms(request)
            if login is None or now - login > self._fresh_ms:
                raise context.unauthenticated(
                    f"{identity.user_id!r} logged in longer ago than fresh_within"
                )
        return identity.user_id


class Requires(BaseGuard[Decision[Perm]], Generic[Perm]):
    """Lets through requests that have `permission` in `context`, proving the
    `Decision`. Refused anonymous requests get the unauthenticated answer
    (they may gain the permission by logging in), others a 403.

    Args:
        permission: The permission asked for, of the ACL's permission type.
        context: An `ACL`, a sequence of entries (compiled once, here) or a
            callable taking the request and returning either, sync or async.
    """

    __slots__ = ("_acl", "_context", "permission")

    # Overloaded on the forms of a context, as `contexts` explains.
    @overload
    def __init__(self, permission: Perm, context: ContextValue[Perm]) -> None: ...
    @overload
    def __init__(self, permission: Perm, context: ContextFactory[Perm]) -> None: ...
    @overload
    def __init__(self, permission: Perm, context: AnyContextFactory) -> None: ...
    def __init__(self, permission: Any, context: Any) -> None:
        self.permission: Perm = permission
        self._context: Context[Perm] = context
        self._acl = static_acl(self._context)

    def __repr__(self) -> str:
        return f"Requires({self.permission!r}, ...)"

    async def check(self, request: web.Request) -> Decision[Perm]:
        context = RequestContext.of(request)
        acl = self._acl
        if acl is None:
            acl = await resolve_context(self._context, request)
        if context.authenticator.groups is None:
            context.authenticator.check_group_entries(acl, self.permission)
        decision = acl.permits(await context.principals(), self.permission)
        if decision.allowed:
            return decision
        log.debug("%s %s: %s", request.method, request.path, decision)
        shown = show_permission(self.permission)
        if await context.identity() is None:
            raise context.unauthenticated(f"{shown} needs a logged-in user")
        raise context.forbidden(f"{shown} is not permitted")


class Public(BaseGuard[None]):
    """Marks a handler or view as open to everyone, so the service's `default`
    guard leaves it alone (and the routes report says so). It opens nothing
    that another guard of the route checks: on a view, assign it under an
    inherited guard attribute's name to open what that guard closed."""

    __slots__ = ()
    opens_route = True

    @property
    def checks_nothing(self) -> bool:
        """Whether this guard's check is `Public`'s own, which does nothing.
        Read through the class's whole MRO when the guard is declared (on a
        handler or a view): a check of a subclass's own, one from a mixin
        listed before `Public`, or one assigned to the class before then,
        runs wherever the guard is declared."""
        return type(self).check is Public.check

    def __repr__(self) -> str:
        return "Public()"

    async def check(self, request: web.Request) -> None:
        return None


class AnyOf(BaseGuard[T]):
    """Passes when any of `guards` passes, proving what the first passing one
    proved; when all refuse, the first refusal is raised. Also `a | b`.

    Args:
        guards: At least one guard, tried in order; nested `AnyOf`s are
            spliced in.
    """

    __slots__ = ("guards",)

    def __init__(self, *guards: Guard[T]) -> None:
        self.guards: tuple[Guard[T], ...] = _flatten(AnyOf, guards)

    def __repr__(self) -> str:
        return " | ".join(map(describe, self.guards))

    async def check(self, request: web.Request) -> T:
        first, *others = self.guards
        try:
            return await first(request)
        except web.HTTPException as exc:
            refusal = exc
        for guard in others:
            try:
                return await guard(request)
            except web.HTTPException:
                continue
        try:
            raise refusal
        finally:
            del refusal  # the frame must not hold what its traceback holds


class AllOf(BaseGuard[tuple[Any, ...]]):
    """Passes when every one of `guards` passes, in order, proving the tuple of
    what each proved; the first refusal is raised. Also `a & b`.

    Args:
        guards: At least one guard, run in order; nested `AllOf`s are
            spliced in.
    """

    __slots__ = ("guards",)

    def __init__(self, *guards: Guard[Any]) -> None:
        self.guards: tuple[Guard[Any], ...] = _flatten(AllOf, guards)

    def __repr__(self) -> str:
        return " & ".join(
            f"({g!r})" if isinstance(g, AnyOf) else describe(g) for g in self.guards
        )

    async def check(self, request: web.Request) -> tuple[Any, ...]:
        return tuple([await guard(request) for guard in self.guards])


def _flatten(
    kind: type[AnyOf[Any] | AllOf], guards: tuple[Guard[T], ...]
) -> tuple[Guard[T], ...]:
    """`guards` with nested combinations of the same kind spliced in."""
    if not guards:
        raise ValueError(f"{kind.__name__} needs at least one guard")
    flat: list[Guard[T]] = []
    for guard in guards:
        flat.extend(guard.guards if isinstance(guard, kind) else (guard,))
    return tuple(flat)


def show_permission(permission: object) -> str:
    """A permission as refusals show it: an enum member by its value
    (`'write'`, not `<NotePerm.WRITE: 'write'>`), anything else by repr."""
    if isinstance(permission, enum.Enum):
        return repr(permission.value)
    return repr(permission)
