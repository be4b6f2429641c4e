"""Authentication policies: where a user's identity is kept between requests."""

from typing import TYPE_CHECKING

from ..identity import Identity
from .base import AbstractAuthentication
from .bearer import BearerTicketPolicy
from .chain import PolicyChain
from .cookie import CookieTicketPolicy
from .session import SessionTicketPolicy

if TYPE_CHECKING:
    from .jwt import JWTPolicy

__all__ = [
    "AbstractAuthentication",
    "BearerTicketPolicy",
    "CookieTicketPolicy",
    "Identity",
    "JWTPolicy",
    "PolicyChain",
    "SessionTicketPolicy",
]


def __getattr__(name: str) -> object:
    # Imported on first use: PyJWT is the optional extra aiohttp_guard[jwt].
    if name == "JWTPolicy":
        try:
            from .jwt import JWTPolicy  # noqa: PLC0415
        except ImportError as exc:
            raise ImportError(
                f"JWTPolicy needs PyJWT with cryptography ({exc}): "
                "pip install 'aiohttp_guard[jwt]'"
            ) from exc
        return JWTPolicy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
