# Stubs for Pyramid 2 (untyped): what benchmarks/micro.py measures.
from collections.abc import Iterable
from typing import Any

Everyone: str
Authenticated: str
Allow: str
Deny: str

class ACLHelper:
    def permits(
        self, context: Any, principals: Iterable[Any], permission: str
    ) -> Any: ...
