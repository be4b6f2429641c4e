from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

class CookieTktAuthentication:
    def __init__(
        self,
        secret: bytes,
        max_age: int,
        reissue_time: int | None = None,
        include_ip: bool = False,
        cookie_name: str = "AUTH_TKT",
    ) -> None: ...

def auth_middleware(policy: CookieTktAuthentication) -> Any: ...
def auth_required(func: _F) -> _F: ...
