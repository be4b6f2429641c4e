"""Where a login may send the user back to, without becoming an open redirect."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["is_safe_next", "safe_next"]


def is_safe_next(target: str) -> bool:
    """True for a path on this site: starts with one `/`, names no scheme or host.

    Rejects `//evil.example`, `/\\evil.example` (browsers read `\\` as `/`),
    absolute URLs and anything with control characters or white space, which
    browsers strip before resolving.
    """
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ch <= " " or ch in "\x7f\\" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(request: web.BaseRequest, default: str = "/") -> str:
    """The request's `next` query parameter if it is safe to redirect to,
    else `default`: what a login view redirects to after `remember`."""
    target = request.query.get("next", "")
    return target if is_safe_next(target) else default
