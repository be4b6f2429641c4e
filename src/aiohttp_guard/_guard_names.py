"""How a guard is named where people read about it: in the repr of the
guards combining it (`a | b`), in the routes report, and in the errors that
refuse a declaration."""

from __future__ import annotations

__all__ = ["describe"]


def describe(guard: object) -> str:
    """A short readable name for a guard: a function's name, else its repr."""
    name = getattr(guard, "__qualname__", None)
    return name if isinstance(name, str) else repr(guard)
