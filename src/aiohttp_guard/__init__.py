"""Authentication and authorization for aiohttp servers.

One `AuthService` per app owns the authentication policy; guards such as
`Authenticated()` protect handlers and views. The functional API of the old
aiohttp_auth package lives on in `aiohttp_guard.auth`.
"""

from .auth import forget, get_auth, remember
from .errors import DefaultErrorHandler, ErrorHandler
from .guards import Authenticated, BaseGuard, Guard
from .policies import (
    AbstractAuthentication,
    CookieTicketPolicy,
    Identity,
    SessionTicketPolicy,
)
from .redirects import is_safe_next, safe_next
from .service import AuthService
from .tickets import InvalidTicket, Ticket, TicketCodec

__all__ = [
    "AbstractAuthentication",
    "AuthService",
    "Authenticated",
    "BaseGuard",
    "CookieTicketPolicy",
    "DefaultErrorHandler",
    "ErrorHandler",
    "Guard",
    "Identity",
    "InvalidTicket",
    "SessionTicketPolicy",
    "Ticket",
    "TicketCodec",
    "forget",
    "get_auth",
    "is_safe_next",
    "remember",
    "safe_next",
]
