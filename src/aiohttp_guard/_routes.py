"""Which guard protects which route: for the default guard and for reports."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import attrs
from aiohttp import hdrs, web

from ._views import (
    GuardLike,
    class_guards,
    ensure_view_guard,
    handler_guards,
    is_view_class,
)

__all__ = ["RouteGuard", "has_own_guard", "routes_report"]


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


def _view_guards(view_class: type[web.View], method: str) -> list[GuardLike]:
    ensure_view_guard(view_class)
    handler = getattr(view_class, method.lower(), None)
    return [*class_guards(view_class), *handler_guards(handler)]


def own_guards(handler: object, method: str) -> list[GuardLike]:
    """The guards a route's handler brings for `method` requests."""
    if is_view_class(handler):
        return _view_guards(handler, method)
    return list(handler_guards(handler))


def has_own_guard(handler: object, method: str) -> bool:
    return bool(own_guards(handler, method))


def describe(guard: object) -> str:
    """A short readable name for a guard: its repr, or a function's name."""
    name = getattr(guard, "__qualname__", None)
    return name if isinstance(name, str) else repr(guard)


def _routes(app: web.Application) -> Iterator[tuple[str, str, Any]]:
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
                        yield method, resource.canonical, handler
            else:
                yield route.method, resource.canonical, handler


def routes_report(
    app: web.Application, default: GuardLike | None, public: Collection[object] = ()
) -> list[RouteGuard]:
    report: list[RouteGuard] = []
    for method, path, handler in _routes(app):
        if handler in public:
            report.append(RouteGuard(method, path, ("Public()",)))
            continue
        guards = tuple(describe(g) for g in own_guards(handler, method))
        if guards or default is None:
            report.append(RouteGuard(method, path, guards))
        else:
            report.append(
                RouteGuard(method, path, (describe(default),), by_default=True)
            )
    return report
