"""Where guards attach: markers on guarded handlers, and guards that run before
a `web.View` dispatches to its method.

aiohttp awaits a view instance to dispatch it, so a class guard wraps the
class's `__await__`: subclasses inherit the wrapper, and the guard is looked up
on the instance's class each time, so a subclass may replace it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeGuard

from aiohttp import web

__all__ = [
    "class_guards",
    "ensure_view_guard",
    "handler_guards",
    "install_attribute_guard",
    "install_view_guard",
    "is_view_class",
    "mark_guarded",
]

GuardLike = Callable[[web.Request], Awaitable[Any]]
Finder = Callable[[type[web.View]], GuardLike | None]

_GUARDS_ATTR = "__aiohttp_guards__"
_FIND_ATTR = "__aiohttp_guard_find__"
_INNER_ATTR = "__aiohttp_guard_inner__"
_NAME_ATTR = "__aiohttp_guard_name__"


def is_view_class(value: object) -> TypeGuard[type[web.View]]:
    """Whether `value` is a class-based view; a check that leaves `value`'s
    type alone when it is not one, so both type checkers follow it."""
    return isinstance(value, type) and issubclass(value, web.View)


def mark_guarded(wrapper: Callable[..., Any], guard: GuardLike) -> None:
    """Record on a guarded handler which guards it (outermost first)."""
    setattr(wrapper, _GUARDS_ATTR, (guard, *handler_guards(wrapper)))


def handler_guards(handler: object) -> tuple[GuardLike, ...]:
    """The guards a decorated handler or view method carries."""
    guards: tuple[GuardLike, ...] = getattr(handler, _GUARDS_ATTR, ())
    return guards


def _wrappers(view_class: type[web.View]) -> Generator[Any, None, None]:
    wrapper = view_class.__await__
    while hasattr(wrapper, _FIND_ATTR):
        yield wrapper
        wrapper = getattr(wrapper, _INNER_ATTR)


def class_guards(view_class: type[web.View]) -> list[GuardLike]:
    """The class guards that run before `view_class` dispatches, in order."""
    found = (getattr(w, _FIND_ATTR)(view_class) for w in _wrappers(view_class))
    return [guard for guard in found if guard is not None][::-1]


def install_view_guard(
    owner: type[web.View], find: Finder, name: str | None = None
) -> None:
    """Make every request dispatched by `owner` (and its subclasses) pass the
    guard that `find` returns for the view's class before any method runs.
    `name` is the class attribute the guard is read from, if any: a wrapper
    for it is installed once per hierarchy."""
    if name is not None and any(
        getattr(w, _NAME_ATTR) == name for w in _wrappers(owner)
    ):
        return
    inner = owner.__await__

    def guarded_await(view: web.View) -> Generator[Any, None, web.StreamResponse]:
        guard = find(type(view))
        if guard is not None:
            yield from guard(view.request).__await__()
        return (yield from inner(view))

    setattr(guarded_await, _FIND_ATTR, find)
    setattr(guarded_await, _INNER_ATTR, inner)
    setattr(guarded_await, _NAME_ATTR, name)
    setattr(owner, "__await__", guarded_await)  # noqa: B010 - mypy forbids assigning methods


def install_attribute_guard(owner: type[web.View], name: str) -> None:
    """Enforce the guard held in the class attribute `name` (a subclass may
    replace it, or set it to None)."""
    install_view_guard(owner, lambda cls: getattr(cls, name, None), name)


def ensure_view_guard(view_class: type[web.View]) -> None:
    """Enforce a `guard` attribute that did not install itself: a plain async
    function, or a guard assigned after the class was created."""
    if getattr(view_class, "guard", None) is not None:
        install_attribute_guard(view_class, "guard")
