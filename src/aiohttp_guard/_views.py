"""Where guards attach, and the one place a view's class guards run.

Guards are declared on classes and read from them:

- a class attribute holding a guard object (any name but an HTTP method's),
  or, on a view, any callable under the name `guard`;
- a class decorator, recorded on the decorated class alone.

`class_guards(cls)` collects them over `cls.__mro__` in MRO order (the class
itself first, then its bases as Python looks attributes up), each class's
decorators (outermost first) before its attributes (in the order written),
each guard once. An attribute name belongs to the first class in the MRO that
defines it, so a subclass replaces an inherited attribute guard by assigning
the same name: another guard, `Public()` or `None`; anything else there hides
the guard and is a `TypeError`, and so is any value under that name from a
class that does not derive from the guard's (a sibling mixin listed first).
A decorator binds its class and every subclass. The answer is computed once
per class and kept, until one of the attributes it read is assigned anew (a
check of one attribute per name).

A view runs them when it dispatches, before its method, through one
mechanism: before a view class makes its first view, the `__await__` its
views dispatch through is wrapped, on that class, to run the class guards of
the view's actual class first. Both `AbstractView.__new__` and
`AbstractView.__init__` (wrapped once, at import) do it, so a view whose
`__init__` does not call its base's is armed all the same. Every override
of `__await__` or `_iter` anywhere in the MRO runs inside that wrapper, so
none is a way around the guards; a subclass that brings an `__await__` of
its own gets its own wrapper, and a marker on the view makes the inner
wrappers of such a chain pass. Each dispatch costs a look-up of the class's
cached guards.

Declarations are checked when they are made: a guard attribute, a class
decorator, and every class later derived from one (through the declaring
class's `__init_subclass__`), so that a declaration that cannot be honoured
is a `TypeError` at class creation.
"""

from __future__ import annotations

import inspect
import weakref
from abc import ABCMeta
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, ClassVar, Final, TypeGuard, cast

import attrs
from aiohttp import web
from aiohttp.abc import AbstractView

from ._guard_names import describe
from ._missing_service import note_missing_service

__all__ = [
    "ClassGuards",
    "GuardBase",
    "GuardLike",
    "class_guards",
    "declare_attribute_guard",
    "declare_class_guard",
    "function_class",
    "handler_guards",
    "is_view_class",
    "mark_guarded",
    "opens_route",
]

GuardLike = Callable[[web.Request], Awaitable[Any]]

_GUARDS_ATTR: Final = "__aiohttp_guards__"
_DECORATED_ATTR: Final = "__aiohttp_guard_decorated__"
_WATCHED_ATTR: Final = "__aiohttp_guard_watched__"
_ENFORCES_ATTR: Final = "__aiohttp_guard_enforces__"
#: In a view's `__dict__` while the outermost wrapper runs its guards.
_RUNNING_ATTR: Final = "__aiohttp_guard_running__"


class GuardBase:
    """Base of `BaseGuard`: what a class attribute holds to guard a view."""

    __slots__ = ()

    #: True for `Public()`, which opens a route rather than checking it.
    opens_route: ClassVar[bool] = False

    @property
    def checks_nothing(self) -> bool:
        """True for a guard whose check does nothing (`Public()`, not a
        subclass with a check of its own): neither a view nor a decorated
        handler need run it."""
        return False


def opens_route(guard: object) -> bool:
    return isinstance(guard, GuardBase) and guard.opens_route


def _checks_nothing(guard: object) -> bool:
    return isinstance(guard, GuardBase) and guard.checks_nothing


def is_view_class(value: object) -> TypeGuard[type[AbstractView]]:
    """Whether `value` is a class-based view (`web.View` or another
    `AbstractView`); a check that leaves `value`'s type alone when it is not
    one, so both type checkers follow it."""
    return isinstance(value, type) and issubclass(value, AbstractView)


def mark_guarded(wrapper: Callable[..., Any], guard: GuardLike) -> None:
    """Record on a guarded handler which guards it (outermost first)."""
    setattr(wrapper, _GUARDS_ATTR, (guard, *handler_guards(wrapper)))


def handler_guards(handler: object) -> tuple[GuardLike, ...]:
    """The guards a decorated handler or view method carries."""
    guards: tuple[GuardLike, ...] = getattr(handler, _GUARDS_ATTR, ())
    return guards


# -- what a class declares ----------------------------------------------------


@attrs.frozen
class ClassGuards:
    """The guards declared over a class's MRO, in the order they run."""

    #: Everything declared, `Public()` markers included (the routes report).
    declared: tuple[GuardLike, ...]
    #: What a view of the class runs before dispatching: `declared` without
    #: the plain `Public()` markers (a subclass of `Public` with a check runs).
    enforced: tuple[GuardLike, ...]
    #: Each attribute name that holds a guard somewhere in the MRO (and a
    #: view's `guard`), with the value the class showed for it: a guard
    #: assigned to the class later is noticed.
    attributes: tuple[tuple[str, object], ...]


_CLASS_GUARDS: dict[type, ClassGuards] = {}

#: The functions in the body of each class that declares or inherits class
#: guards, with the class: routed as function handlers, they would skip them.
_CLASS_FUNCTIONS: weakref.WeakKeyDictionary[object, type] = weakref.WeakKeyDictionary()


def _record_functions(cls: type) -> None:
    for value in list(cls.__dict__.values()):
        function: object = value
        if isinstance(value, staticmethod | classmethod):
            function = cast("Any", value).__func__
        if inspect.isfunction(function):
            _CLASS_FUNCTIONS.setdefault(function, cls)


def function_class(function: object) -> type | None:
    """The class whose body defines `function` (as a method, staticmethod or
    classmethod), when that class has or had class guards."""
    try:
        return _CLASS_FUNCTIONS.get(function)
    except TypeError:  # not hashable, so never recorded
        return None


def class_guards(cls: type) -> ClassGuards:
    """The guards declared on `cls` and its bases, computed once per class
    (and again when one of its guard attributes is assigned). Raises
    `TypeError` for a declaration that cannot be honoured."""
    found = _CLASS_GUARDS.get(cls)
    if found is not None:
        for name, seen in found.attributes:
            if getattr(cls, name, None) is not seen:
                found = None
                break
    if found is None:
        found = _CLASS_GUARDS[cls] = _collect(cls)
    return found


def _collect(cls: type) -> ClassGuards:
    view = is_view_class(cls)
    declared: list[GuardLike] = []
    # Each attribute name, with the class whose value Python would find.
    owners: dict[str, tuple[type, object]] = {}
    names = {"guard"} if view else set[str]()
    for klass in cls.__mro__:
        found: list[GuardLike] = list(klass.__dict__.get(_DECORATED_ATTR, ()))
        for name, value in klass.__dict__.items():
            if name.startswith("__") and name.endswith("__"):
                continue
            owner, winner = owners.setdefault(name, (klass, value))
            if isinstance(value, GuardBase):
                names.add(name)
            if owner is klass:
                guard = _attribute_guard(klass, name, value, view=view)
                if guard is not None:
                    found.append(guard)
            elif not _is_guard(name, value, view=view):
                pass
            elif not issubclass(owner, klass):
                raise TypeError(
                    f"{owner.__qualname__}.{name} = {winner!r} shadows the guard "
                    f"{describe(value)} of {klass.__qualname__}, which "
                    f"{owner.__qualname__} does not derive from: only a subclass "
                    f"of {klass.__qualname__} may replace or remove its guard. "
                    f"Rename the attribute of {owner.__qualname__}, or list "
                    f"{klass.__qualname__} before it among the bases"
                )
            elif not _may_replace(owner, name, winner, view=view):
                raise TypeError(
                    f"{owner.__qualname__}.{name} = {winner!r} hides the guard "
                    f"{describe(value)} of {klass.__qualname__}: assign another "
                    "guard, Public() to open the route, or None to remove it"
                )
        for guard in found:
            if not any(guard is known for known in declared):
                declared.append(guard)
    enforced = tuple(g for g in declared if not _checks_nothing(g))
    if enforced:
        _record_functions(cls)
    return ClassGuards(
        tuple(declared),
        enforced,
        tuple((name, getattr(cls, name, None)) for name in sorted(names)),
    )


def _attribute_guard(
    klass: type, name: str, value: object, *, view: bool
) -> GuardLike | None:
    """The guard that the attribute `name = value` of `klass` declares."""
    if isinstance(value, GuardBase):
        return value  # type: ignore[return-value]  # every GuardBase is a BaseGuard
    if not view or name != "guard" or value is None:
        return None
    if not callable(value):
        raise TypeError(
            f"{klass.__qualname__}.guard is {value!r}: a view's guard is a guard "
            "(an async callable taking the request), or None for none"
        )
    return cast("GuardLike", value)


def _is_guard(name: str, value: object, *, view: bool) -> bool:
    """Whether the attribute `name = value` declares a guard (without the
    checks `_attribute_guard` makes of its owner's)."""
    if isinstance(value, GuardBase):
        return True
    return view and name == "guard" and value is not None and callable(value)


def _may_replace(owner: type, name: str, value: object, *, view: bool) -> bool:
    return value is None or _attribute_guard(owner, name, value, view=view) is not None


# -- declarations -------------------------------------------------------------


def declare_attribute_guard(owner: type) -> None:
    """`owner`'s body holds a guard: check every class later derived from it."""
    _record_functions(owner)
    _watch(owner)


def declare_class_guard(owner: type, guard: GuardLike) -> None:
    """`guard` decorates `owner`: every view that is `owner` or derives from
    it runs it. `owner` may be a mixin, but not a class no view can derive
    from."""
    if owner in (web.View, AbstractView):
        raise TypeError("decorate a view class of your own, not aiohttp's")
    meta = type(owner)
    if not (issubclass(meta, ABCMeta) or issubclass(ABCMeta, meta)):
        raise TypeError(
            f"{owner.__qualname__} can never be a base of a web.View (its "
            f"metaclass {meta.__qualname__} conflicts with web.View's), so the "
            f"guard {describe(guard)} on it would never run"
        )
    decorated: tuple[GuardLike, ...] = owner.__dict__.get(_DECORATED_ATTR, ())
    setattr(owner, _DECORATED_ATTR, (guard, *decorated))
    _watch(owner)
    for cls in _with_subclasses(owner):
        _CLASS_GUARDS.pop(cls, None)
        _record_functions(cls)


def _with_subclasses(cls: type) -> Iterator[type]:
    yield cls
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        yield from _with_subclasses(sub)


def _watch(owner: type) -> None:
    """Check and arm each class derived from `owner` when it is created, by
    chaining `owner.__init_subclass__`."""
    if _WATCHED_ATTR in owner.__dict__:
        return
    own: Any = owner.__dict__.get("__init_subclass__")

    def init_subclass(cls: type, /, **kwargs: Any) -> None:
        if own is None:
            base: Any = owner  # mypy cannot type super() of a class variable
            super(base, cls).__init_subclass__(**kwargs)
        else:
            own.__get__(None, cls)(**kwargs)
        _derived(cls)

    setattr(owner, "__init_subclass__", classmethod(init_subclass))  # noqa: B010
    setattr(owner, _WATCHED_ATTR, True)


def _derived(cls: type) -> None:
    """A class was created below one that declares guards: refuse what it
    cannot honour now."""
    if class_guards(cls).enforced:
        _record_functions(cls)


# -- enforcement ---------------------------------------------------------------


def _guarded_await(
    inner: Callable[[AbstractView], Generator[Any, None, web.StreamResponse]],
) -> Callable[[AbstractView], Generator[Any, None, web.StreamResponse]]:
    """`inner`, the `__await__` a view class dispatches through, running the
    class guards of the view first, unless a wrapper further out already
    runs them."""

    def guarded_await(view: AbstractView) -> Generator[Any, None, web.StreamResponse]:
        state = vars(view)
        guards = () if _RUNNING_ATTR in state else class_guards(type(view)).enforced
        if not guards:
            return (yield from inner(view))
        state[_RUNNING_ATTR] = True
        try:
            request = view.request
            for guard in guards:
                try:
                    yield from guard(request).__await__()
                except RuntimeError as error:
                    note_missing_service(error, request, guard)
                    raise
            return (yield from inner(view))
        finally:
            del state[_RUNNING_ATTR]

    setattr(guarded_await, _ENFORCES_ATTR, True)
    return guarded_await


def _arm(view_class: type[AbstractView]) -> None:
    """Make the `__await__` that views of `view_class` dispatch through run
    their class guards first, unless it already does (inherited from a class
    armed before)."""
    dispatch: object = view_class.__await__
    if not getattr(dispatch, _ENFORCES_ATTR, False):
        setattr(view_class, "__await__", _guarded_await(cast("Any", dispatch)))  # noqa: B010


def _arm_first(init: Callable[[AbstractView, web.Request], None]) -> Any:
    def __init__(self: AbstractView, request: web.Request) -> None:  # noqa: N807
        _arm(type(self))
        init(self, request)

    return __init__


def _arm_on_new(cls: type[AbstractView], *args: Any, **kwargs: Any) -> AbstractView:
    """`AbstractView.__new__`: arms the class, then makes the view as the
    classes after `AbstractView` in its MRO would."""
    _arm(cls)
    following: Any = super(AbstractView, cls).__new__
    if following is object.__new__:
        view: AbstractView = object.__new__(cls)
        return view
    return cast("AbstractView", following(cls, *args, **kwargs))


# Every view class is armed before its first view exists, whatever makes it:
# the router, a sub-application's, or a handler awaiting a view of its own;
# and whether or not the view's own `__init__` calls its base's.
# A view class keeps the signature its `__init__` gives it (inspect prefers a
# `__new__` of the same class).
setattr(_arm_on_new, "__signature__", inspect.signature(AbstractView.__init__))  # noqa: B010
setattr(AbstractView, "__new__", staticmethod(_arm_on_new))  # noqa: B010
setattr(AbstractView, "__init__", _arm_first(AbstractView.__init__))  # noqa: B010
