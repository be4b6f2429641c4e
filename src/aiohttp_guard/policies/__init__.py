"""Authentication policies: where a user's identity is kept between requests."""

from .base import AbstractAuthentication, Identity
from .cookie import CookieTicketPolicy
from .session import SessionTicketPolicy

__all__ = [
    "AbstractAuthentication",
    "CookieTicketPolicy",
    "Identity",
    "SessionTicketPolicy",
]
