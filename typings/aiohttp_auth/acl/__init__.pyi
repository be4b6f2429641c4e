from collections.abc import Awaitable, Callable
from typing import Any

from .acl import get_permitted as get_permitted

def acl_middleware(callback: Callable[[str | None], Awaitable[Any]]) -> Any: ...
