"""Running guards before a `web.View` dispatches to its method.

aiohttp awaits a view instance to dispatch it, so a class guard wraps the
class's `__await__`: subclasses inherit the wrapper, and the guard is looked up
on the instance's class each time, so a subclass may replace it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any

from aiohttp import web

__all__ = ["ensure_view_guard", "install_view_guard"]

_NAMES_ATTR = "__aiohttp_guard_names__"

GuardLike = Callable[[web.Request], Awaitable[Any]]


def install_view_guard(
    owner: type[web.View],
    find: Callable[[type[web.View]], GuardLike | None],
    name: str | None = None,
) -> None:
    """Make every request dispatched by `owner` (and its subclasses) pass the
    guard that `find` returns for the view's class before any method runs.
    `name` is the class attribute the guard is read from, if any: a wrapper
    for it is installed once per hierarchy."""
    inner = owner.__await__
    names: frozenset[str] = getattr(inner, _NAMES_ATTR, frozenset())
    if name is not None and name in names:
        return

    def guarded_await(view: web.View) -> Generator[Any, None, web.StreamResponse]:
        guard = find(type(view))
        if guard is not None:
            yield from guard(view.request).__await__()
        return (yield from inner(view))

    setattr(guarded_await, _NAMES_ATTR, names if name is None else names | {name})
    setattr(owner, "__await__", guarded_await)  # noqa: B010 - mypy forbids assigning methods


def ensure_view_guard(view_class: type[web.View]) -> None:
    """Enforce a `guard` attribute that did not install itself: a plain async
    function, or a guard assigned after the class was created."""
    if getattr(view_class, "guard", None) is not None:
        install_view_guard(view_class, lambda cls: getattr(cls, "guard", None), "guard")
