"""Small bridges over differences between the aiohttp versions we support."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

__all__ = ["request_get", "request_key"]

_T = TypeVar("_T")

if TYPE_CHECKING:
    from aiohttp.web import RequestKey
else:
    RequestKey = getattr(web, "RequestKey", None)


def request_key(name: str, type_: type[_T]) -> RequestKey[_T]:
    """A typed per-request storage key: `web.RequestKey` where aiohttp has it
    (3.14+, which warns about string keys), a plain string before."""
    # Typed as always there; at run time, None on aiohttp < 3.14.
    if RequestKey is None:  # pragma: no cover  # pyright: ignore[reportUnnecessaryComparison]
        key: Any = f"aiohttp_guard.{name}"
        return key  # type: ignore[no-any-return]
    return RequestKey(f"aiohttp_guard.{name}", type_)


def request_get(request: web.BaseRequest, key: RequestKey[_T]) -> _T | None:
    """`request.get(key)`, typed by the key: aiohttp types only
    `request[key]` by it."""
    # Most requests hold nothing yet: a raised and caught KeyError costs
    # four times a hit (benchmarks.inprocess, 2026-12-01).
    if not len(request):
        return None
    try:
        return request[key]
    except KeyError:
        return None
