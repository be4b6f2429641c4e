"""The answer of an application's callback, which may be sync or async.

Group resolvers, aiohttp_auth's group callbacks and ACL contexts may each be
written either way; they are all taken through `maybe_await`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TypeVar, cast

__all__ = ["maybe_await"]

T = TypeVar("T")


async def maybe_await(value: T | Awaitable[T]) -> T:
    """`value` itself, or what it gives when awaited if it is awaitable."""
    if inspect.isawaitable(value):
        return cast("T", await value)
    return cast("T", value)
