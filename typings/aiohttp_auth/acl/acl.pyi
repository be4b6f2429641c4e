# Stubs for aiohttp_auth 0.1.1 (untyped): what benchmarks/micro.py measures.
from collections.abc import Coroutine, Sequence
from typing import Any

GROUPS_KEY: str

def get_permitted(
    request: Any, permission: Any, context: Sequence[Any]
) -> Coroutine[Any, Any, bool]: ...
