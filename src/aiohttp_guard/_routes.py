"""Which guard protects which route: for the default guard and for reports."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Collection, Iterator
from typing import TypeAlias, cast

import attrs
from aiohttp import hdrs, web
from aiohttp.abc import AbstractView

from ._views import (
    ClassGuards,
    GuardLike,
    arm,
    class_guards,
    describe,
    function_class,
    handler_guards,
    is_view_class,
    opens_route,
)

__all__ = [
    "OwnGuard",
    "RouteGuard",
    "outdated",
    "own_guard",
    "public_routes",
    "routes_report",
]


@attrs.frozen
class RouteGuard:
    """One line of `AuthService.routes_report`: a route and what protects it."""

    method: str
    path: str
    guards: tuple[str, ...]
    #: True when the route's protection is the service's default guard.
    by_default: bool = False

    @property
    def guarded(self) -> bool:
        return bool(self.guards)

    def __str__(self) -> str:
        protection = " & ".join(self.guards) if self.guards else "UNGUARDED"
        suffix = " (default)" if self.by_default else ""
        return f"{self.method} {self.path} -> {protection}{suffix}"


def own_guards(handler: object, method: str) -> list[GuardLike]:
    """The guards a route's handler brings for `method` requests, `Public()`
    markers included. A view class is armed on the way; a class guard that
    would not run for this handler is a `TypeError`."""
    if is_view_class(handler):
        guards = class_guards(handler)
        arm(handler)
        own = getattr(handler, method.lower(), None)
        return [*guards.declared, *handler_guards(own)]
    owner = _handler_class(handler)
    if owner is not None:
        stray = class_guards(owner).enforced
        if stray:
            raise TypeError(
                f"{describe(handler)} is routed as a function handler, so the "
                f"class guards of {owner.__qualname__} "
                f"({', '.join(map(describe, stray))}) would never run for it: "
                "decorate the handler itself, or route the class as a web.View"
            )
    return list(handler_guards(handler))


def _handler_class(handler: object) -> type | None:
    """The class a function handler belongs to, whose class guards a reader
    could expect to cover it: a bound method's class, or a class or callable
    object that aiohttp calls as a function (wrapping it, with a warning)."""
    while isinstance(handler, functools.partial):
        handler = cast("functools.partial[object]", handler).func
    # A function from the body of a class with class guards: `Handlers.show`
    # (a staticmethod, or a method used unbound) or a view's method.
    defined_in = function_class(handler)
    if defined_in is not None:
        return defined_in
    if callable(handler):
        handler = inspect.unwrap(handler)
    if inspect.ismethod(handler):
        owner = handler.__self__
        return owner if isinstance(owner, type) else type(owner)
    if isinstance(handler, type):
        return handler
    if inspect.isfunction(handler):
        return function_class(handler)
    return type(handler)


#: Whether a route has guards of its own for a method (or is opened), with,
#: for a view class, the class and the `ClassGuards` the answer was read from.
OwnGuard: TypeAlias = tuple[bool, type[AbstractView] | None, ClassGuards | None]


def own_guard(handler: object, method: str, *, opened: bool) -> OwnGuard:
    """What the middleware keeps for a route and method: whether the default
    guard is lifted from it, and what to check that the answer still holds."""
    own = bool(own_guards(handler, method)) or opened
    if is_view_class(handler):
        return own, handler, class_guards(handler)
    return own, None, None


def outdated(decided: OwnGuard) -> bool:
    """Whether a view class's guards changed since `decided` was made."""
    view = decided[1]
    return view is not None and class_guards(view) is not decided[2]


def public_routes(
    target: web.AbstractResource | web.AbstractRoute,
) -> list[web.AbstractRoute]:
    """The routes `AuthService.public(target)` opens: a route (a GET route
    with the HEAD route aiohttp added beside it), or a resource's routes."""
    if isinstance(target, web.AbstractRoute):
        resource = target.resource
        if target.method != hdrs.METH_GET or resource is None:
            return [target]
        return [
            target,
            *(
                r
                for r in resource
                if r.method == hdrs.METH_HEAD and r.handler == target.handler
            ),
        ]
    if isinstance(target.get_info().get("app"), web.Application):
        raise TypeError(
            "public() opens a resource, not a whole sub-application: "
            "open the sub-application's resources one by one"
        )
    routes = list(target)
    if not routes:
        raise ValueError(
            f"{target!r} has no routes yet: add them before calling public()"
        )
    return routes


def _routes(app: web.Application) -> Iterator[tuple[web.AbstractRoute, str, str]]:
    for resource in app.router.resources():
        sub_app = resource.get_info().get("app")
        if isinstance(sub_app, web.Application):
            yield from _routes(sub_app)
            continue
        # aiohttp adds a HEAD route beside each GET; it says nothing new.
        gets = {r.handler for r in resource if r.method == hdrs.METH_GET}
        for route in resource:
            handler = route.handler
            if route.method == hdrs.METH_HEAD and handler in gets:
                continue
            if route.method == hdrs.METH_ANY and isinstance(handler, type):
                for method in sorted(hdrs.METH_ALL):
                    if hasattr(handler, method.lower()):
                        yield route, method, resource.canonical
            else:
                yield route, route.method, resource.canonical


def routes_report(
    app: web.Application,
    default: GuardLike | None,
    public: Collection[web.AbstractRoute] = (),
) -> list[RouteGuard]:
    report: list[RouteGuard] = []
    for route, method, path in _routes(app):
        guards = own_guards(route.handler, method)
        # `Public()` says nothing beside a guard that runs.
        checks = [g for g in guards if not opens_route(g)]
        shown = tuple(describe(g) for g in checks or guards)
        if shown:
            report.append(RouteGuard(method, path, shown))
        elif route in public:
            report.append(RouteGuard(method, path, ("Public()",)))
        elif default is None:
            report.append(RouteGuard(method, path, ()))
        else:
            report.append(
                RouteGuard(method, path, (describe(default),), by_default=True)
            )
    return report
