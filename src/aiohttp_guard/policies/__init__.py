"""Authentication policies: where a user's identity is kept between requests."""

from .base import AbstractAuthentication, Identity
from .bearer import BearerTicketPolicy
from .chain import PolicyChain
from .cookie import CookieTicketPolicy
from .session import SessionTicketPolicy

__all__ = [
    "AbstractAuthentication",
    "BearerTicketPolicy",
    "CookieTicketPolicy",
    "Identity",
    "PolicyChain",
    "SessionTicketPolicy",
]
