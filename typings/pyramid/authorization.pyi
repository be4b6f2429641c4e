# Stubs for Pyramid 2 (untyped): what benchmarks/micro.py measures, and the
# ACL names tests/test_acl_porting.py ports.
from collections.abc import Iterable, Iterator
from typing import Any, Never

Everyone: str
Authenticated: str
Allow: str
Deny: str

class AllPermissionsList:
    def __iter__(self) -> Iterator[Never]: ...
    def __contains__(self, other: object) -> bool: ...

ALL_PERMISSIONS: AllPermissionsList
DENY_ALL: tuple[str, str, AllPermissionsList]

class ACLHelper:
    def permits(
        self, context: Any, principals: Iterable[Any], permission: str
    ) -> Any: ...
