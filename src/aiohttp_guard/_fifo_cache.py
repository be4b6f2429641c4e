"""A bounded cache that forgets its oldest entries first."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

__all__ = ["FifoCache"]

K = TypeVar("K")
V = TypeVar("V")


class FifoCache(OrderedDict[K, V]):
    """A mapping of at most `size` entries; `put` drops the oldest when full.

    An `OrderedDict`, not a plain dict: deleting a plain dict's first key
    again and again leaves holes that `next(iter(d))` walks past, a cost that
    grew to a few microseconds per eviction, more than the work cached.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.size:
            self.popitem(last=False)
        self[key] = value
        return value
