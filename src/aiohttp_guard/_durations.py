"""Durations given as seconds or as a `timedelta`, read one way everywhere."""

from __future__ import annotations

from datetime import timedelta

__all__ = ["seconds"]


def seconds(value: float | timedelta, name: str) -> float:
    """`value` in seconds, refusing negative durations with a message naming it."""
    result = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if result < 0:
        raise ValueError(f"{name} must not be negative (got {value!r})")
    return result
