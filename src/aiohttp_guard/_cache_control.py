"""How long an HTTP response may be kept, from its `Cache-Control` header."""

from __future__ import annotations

__all__ = ["max_age"]


def max_age(header: str | None) -> int | None:
    """The response's freshness in seconds, from `header` (a `Cache-Control`
    value): 0 for `no-cache`/`no-store`, the smallest `max-age` given, or
    None when it says neither or says it unreadably."""
    if header is None:
        return None
    found: int | None = None
    for directive in header.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return 0
        if name == "max-age":
            value = value.strip().strip('"')
            # isdecimal, not isdigit: int() refuses some digits isdigit takes.
            if not value.isdecimal() or not value.isascii() or len(value) > 12:
                return None
            seconds = int(value)
            found = seconds if found is None else min(found, seconds)
    return found
