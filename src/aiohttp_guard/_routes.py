"""Which guard protects which route: for the default guard and for reports."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Iterator
from typing import TypeAlias, cast

import attrs
from aiohttp import hdrs, web
from aiohttp.abc import AbstractView
from yarl import URL

from ._guard_names import describe
from ._views import (
    ClassGuards,
    GuardLike,
    class_guards,
    function_class,
    handler_guards,
    is_view_class,
    opens_route,
)
from .cross_origin import is_csrf_exempt

__all__ = [
    "RouteDecisions",
    "RouteGuard",
    "absolute_login_url_warning",
    "guarded_login_routes",
    "is_login_route",
    "login_path_of",
    "public_routes",
    "routes_report",
    "unserved_routes",
]


@attrs.frozen
class RouteGuard:
    """One line of `AuthService.routes_report`: a route and what protects it."""

    method: str
    path: str
    guards: tuple[str, ...]
    #: True when the route's protection is the service's default guard.
    by_default: bool = False
    #: True when `csrf_exempt` opened the route to cross-origin requests
    #: that the service's `CrossOriginProtection` would refuse.
    csrf_exempt: bool = False

    @property
    def guarded(self) -> bool:
        return bool(self.guards)

    def __str__(self) -> str:
        protection = " & ".join(self.guards) if self.guards else "UNGUARDED"
        suffix = " (default)" if self.by_default else ""
        if self.csrf_exempt:
            suffix += " (csrf exempt)"
        return f"{self.method} {self.path} -> {protection}{suffix}"


def own_guards(handler: object, method: str) -> list[GuardLike]:
    """The guards a route's handler brings for `method` requests, `Public()`
    markers included. A class guard that would not run for this handler is a
    `TypeError`."""
    if is_view_class(handler):
        guards = class_guards(handler)
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
_Decision: TypeAlias = tuple[bool, type[AbstractView] | None, ClassGuards | None]


class RouteDecisions:
    """Which routes the service's default guard covers: those without a
    guard of their own that `public()` did not open.

    Decided once per route and method, and again when a view class's guards
    change. A route of one method is decided once; a '*' route once per
    standard method, and once for any other token (aiohttp answers them 405
    on a view), so that made-up methods cannot grow what is kept.
    """

    def __init__(self, login_path: str | None = None) -> None:
        self.public: set[web.AbstractRoute] = set()
        #: The path of the service's login page: its routes are open, so
        #: that a browser sent there to log in is never sent there again.
        self.login_path = login_path
        self._decided: dict[tuple[web.AbstractRoute, str], _Decision] = {}

    def __len__(self) -> int:
        """How many decisions are kept."""
        return len(self._decided)

    def open(self, target: web.AbstractResource | web.AbstractRoute) -> None:
        """Lift the default guard from `target` (see `AuthService.public`)."""
        self.public.update(public_routes(target))
        self._decided.clear()

    def needs_default(self, route: web.AbstractRoute, method: str) -> bool:
        """Whether a `method` request to `route` needs the default guard."""
        if route.method != hdrs.METH_ANY:
            method = route.method
        elif method not in hdrs.METH_ALL:
            method = ""
        key = (route, method)
        decided = self._decided.get(key)
        if decided is None or _outdated(decided):
            opened = route in self.public or is_login_route(route, self.login_path)
            decided = self._decided[key] = _decide(route.handler, method, opened=opened)
        return not decided[0]


def is_login_route(route: web.AbstractRoute, login_path: str | None) -> bool:
    """Whether `route` serves the login page at `login_path`: a plain
    resource at that very path (a static directory or a variable resource
    there serves other pages too, and stays guarded)."""
    resource = route.resource
    return (
        login_path is not None
        and isinstance(resource, web.PlainResource)
        and resource.canonical == login_path
    )


def login_path_of(login_url: str | None) -> str | None:
    """The path of this app's login page, from a login URL: None when there
    is none, or when it is on another site (an absolute URL)."""
    if login_url is None:
        return None
    url = URL(login_url)
    return None if url.is_absolute() else url.path


def absolute_login_url_warning(
    app: web.Application,
    login_url: str | None,
    default: GuardLike | None,
    public: Collection[web.AbstractRoute] = (),
) -> str | None:
    """What to tell the user about the routes at the path of an absolute
    `login_url`, or None when none of them is closed. The library cannot tell
    this app's own login page from another site's page at the same path, so
    it opens none of them: the user must say which one is theirs."""
    if login_url is None or not URL(login_url).is_absolute():
        return None
    path = URL(login_url).path
    at_path = [
        (route, line)
        for route, line in _report(app, default, public)
        if is_login_route(route, path)
    ]
    by_default = [
        f"{line.method} {line.path}" for _, line in at_path if line.by_default
    ]
    own = [
        f"{line.method} {line.path} is guarded by {' & '.join(line.guards)}"
        for route, line in at_path
        if _checks(route, line)
    ]
    if not by_default and not own:
        return None
    opened = [
        f"{line.method} {line.path}"
        for route, line in at_path
        if not line.by_default and not _checks(route, line)
    ]
    said = [
        f"login_url {login_url!r} is an absolute URL, which may name another "
        f"site, so the routes at its path {path} are not opened for the login "
        "page"
    ]
    if by_default:
        said.append(
            f"{', '.join(by_default)} "
            f"{'stays' if len(by_default) == 1 else 'stay'} under the default guard "
            f"{describe(default)}: if this app serves its login page there, "
            "decorate that handler with Public() (or open the route with "
            f"service.public(route)), or give login_url as the path {path!r}"
        )
    if own:
        said.append(
            f"{', '.join(own)}, which would refuse the browsers sent there "
            "to log in: if that is the login page, remove its guards "
            "(Public() does not open a route beside a guard that checks)"
        )
    if opened:
        said.append(f"already open there: {', '.join(opened)}")
    return "; ".join(said)


def _checks(route: web.AbstractRoute, line: RouteGuard) -> bool:
    """Whether `route` has a guard of its own that checks requests."""
    method = line.method
    return any(not opens_route(g) for g in own_guards(route.handler, method))


def guarded_login_routes(
    app: web.Application, login_path: str | None
) -> list[tuple[str, str, tuple[str, ...]]]:
    """The routes of the login page that guards of their own close: method,
    path and guards of each. A browser sent there to log in would be
    refused there."""
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for route, method, path in _routes(app):
        if not is_login_route(route, login_path):
            continue
        checks = [g for g in own_guards(route.handler, method) if not opens_route(g)]
        if checks:
            found.append((method, path, tuple(describe(g) for g in checks)))
    return found


def _decide(handler: object, method: str, *, opened: bool) -> _Decision:
    own = bool(own_guards(handler, method)) or opened
    if is_view_class(handler):
        return own, handler, class_guards(handler)
    return own, None, None


def _outdated(decided: _Decision) -> bool:
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


def unserved_routes(
    app: web.Application, served: Callable[[web.Application], bool]
) -> list[RouteGuard]:
    """The routes of `app` and its sub-applications whose own guards would
    run with no service to ask: in no application that is `served`, nor
    mounted in one (a service's middleware runs for its sub-applications)."""
    found: list[RouteGuard] = []
    for route, method, path in _routes(app, skip=served):
        guards = own_guards(route.handler, method)
        checks = tuple(describe(g) for g in guards if not opens_route(g))
        if checks:
            found.append(RouteGuard(method, path, checks))
    return found


def _routes(
    app: web.Application, skip: Callable[[web.Application], bool] | None = None
) -> Iterator[tuple[web.AbstractRoute, str, str]]:
    """Every route of `app` and its sub-applications, with each method and
    path it serves; without the applications that `skip` (and theirs)."""
    if skip is not None and skip(app):
        return
    for resource in app.router.resources():
        sub_app = resource.get_info().get("app")
        if isinstance(sub_app, web.Application):
            yield from _routes(sub_app, skip)
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
    login_path: str | None = None,
    *,
    cross_origin: bool = False,
) -> list[RouteGuard]:
    return [
        line
        for _, line in _report(
            app, default, public, login_path, cross_origin=cross_origin
        )
    ]


def _report(
    app: web.Application,
    default: GuardLike | None,
    public: Collection[web.AbstractRoute] = (),
    login_path: str | None = None,
    *,
    cross_origin: bool = False,
) -> Iterator[tuple[web.AbstractRoute, RouteGuard]]:
    for route, method, path in _routes(app):
        guards = own_guards(route.handler, method)
        # `Public()` says nothing beside a guard that runs.
        checks = [g for g in guards if not opens_route(g)]
        shown = tuple(describe(g) for g in checks or guards)
        by_default = False
        if shown:
            pass
        elif route in public:
            shown = ("Public()",)
        elif is_login_route(route, login_path):
            shown = ("Public() (login_url)",)
        elif default is not None:
            shown, by_default = (describe(default),), True
        exempt = (
            cross_origin
            # A GET route may take WebSocket handshakes, which are checked.
            and method not in (hdrs.METH_HEAD, hdrs.METH_OPTIONS)
            and is_csrf_exempt(route.handler, method)
        )
        yield route, RouteGuard(method, path, shown, by_default, exempt)
