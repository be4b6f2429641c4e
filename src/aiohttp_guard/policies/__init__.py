"""Authentication policies: where a user's identity is kept between requests."""

from ..identity import Identity
from .base import AbstractAuthentication
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
