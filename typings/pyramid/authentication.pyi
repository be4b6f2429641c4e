# Stubs for Pyramid 2 (untyped): what benchmarks/micro.py measures.
from collections.abc import Sequence

class AuthTicket:
    def __init__(
        self,
        secret: str,
        userid: str,
        ip: str,
        tokens: Sequence[str] = (),
        user_data: str = "",
        time: float | None = None,
        cookie_name: str = "auth_tkt",
        secure: bool = False,
        hashalg: str = "md5",
    ) -> None: ...
    def cookie_value(self) -> str: ...

def parse_ticket(
    secret: str, ticket: str, ip: str, hashalg: str = "md5"
) -> tuple[float, str, list[str], str]: ...
