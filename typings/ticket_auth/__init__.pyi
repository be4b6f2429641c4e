# Stubs for ticket_auth 0.1.4 (untyped): the parts aiohttp_guard's tests use to
# make tickets in aiohttp_auth's format.
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

class TicketInfo(NamedTuple):
    digest: str
    user_id: str
    tokens: tuple[str, ...]
    user_data: str
    valid_until: int

class TicketError(Exception):
    ticket: str
    msg: str

class TicketParseError(TicketError): ...
class TicketDigestError(TicketError): ...
class TicketExpired(TicketError): ...  # noqa: N818 - the package's name

class TicketFactory:
    def __init__(self, secret: bytes, hashalg: str = "sha512") -> None: ...
    def new(
        self,
        user_id: str,
        tokens: Sequence[str] | None = None,
        user_data: str | None = None,
        valid_until: float | None = None,
        client_ip: str | IPv4Address | IPv6Address | None = None,
        encoding: str = "utf-8",
    ) -> str: ...
    def validate(
        self,
        ticket: str,
        client_ip: str | IPv4Address | IPv6Address | None = None,
        now: float | None = None,
        encoding: str = "utf-8",
    ) -> TicketInfo: ...
    def parse(self, ticket: str) -> TicketInfo: ...
