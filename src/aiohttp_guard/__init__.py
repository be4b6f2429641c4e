"""Authentication and authorization for aiohttp servers.

One `AuthService` per app owns the authentication policy and the group
resolver; guards such as `Authenticated()` and `Requires("edit", acl)` protect
handlers and views. The functional API of the old aiohttp_auth package lives
on in `aiohttp_guard.auth` and `aiohttp_guard.acl`.
"""

from typing import TYPE_CHECKING

from . import acl, auth
from ._routes import RouteGuard
from .access_control import ACE, ACL, ALL_PERMISSIONS, Decision, EntryTuple
from .auth import forget, get_auth, remember
from .checks import check_app
from .configuration import ConfigurationWarning
from .contexts import Context
from .cross_origin import CrossOriginProtection, csrf_exempt
from .guards import AllOf, AnyOf, Authenticated, BaseGuard, Guard, Public, Requires
from .identity import ClaimValue
from .login_sessions import (
    EARLIER_LOGINS,
    LoginSession,
    MemorySessionRegistry,
    SessionRegistry,
    SessionsUnavailable,
)
from .login_throttle import LoginThrottle
from .policies import (
    AbstractAuthentication,
    BearerTicketPolicy,
    CookieTicketPolicy,
    Identity,
    PolicyChain,
    SessionTicketPolicy,
)
from .principals import (
    Allow,
    AuthenticatedUser,
    Deny,
    Everyone,
    Group,
    Permission,
    Scope,
    User,
)
from .redirects import is_safe_next, safe_next
from .redis_sessions import RedisSessionRegistry
from .refusals import DefaultErrorHandler, ErrorHandler, preferred_format
from .request_context import RequestContext
from .revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from .service import AuthService, GroupResolver, Groups
from .tickets import InvalidTicket, Ticket, TicketCodec

if TYPE_CHECKING:
    from .policies.jwt import JWTPolicy

__all__ = [
    "ACE",
    "ACL",
    "ALL_PERMISSIONS",
    "EARLIER_LOGINS",
    "AbstractAuthentication",
    "AllOf",
    "Allow",
    "AnyOf",
    "AuthService",
    "Authenticated",
    "AuthenticatedUser",
    "BaseGuard",
    "BearerTicketPolicy",
    "ClaimValue",
    "ConfigurationWarning",
    "Context",
    "CookieTicketPolicy",
    "CrossOriginProtection",
    "Decision",
    "DefaultErrorHandler",
    "Deny",
    "EntryTuple",
    "ErrorHandler",
    "Everyone",
    "Group",
    "GroupResolver",
    "Groups",
    "Guard",
    "Identity",
    "InvalidTicket",
    "JWTPolicy",
    "LoginSession",
    "LoginThrottle",
    "MemoryRevocationStore",
    "MemorySessionRegistry",
    "Permission",
    "PolicyChain",
    "Public",
    "RedisRevocationStore",
    "RedisSessionRegistry",
    "RequestContext",
    "Requires",
    "RevocationStore",
    "RouteGuard",
    "Scope",
    "SessionRegistry",
    "SessionTicketPolicy",
    "SessionsUnavailable",
    "Ticket",
    "TicketCodec",
    "User",
    "acl",
    "auth",
    "check_app",
    "csrf_exempt",
    "forget",
    "get_auth",
    "is_safe_next",
    "preferred_format",
    "remember",
    "safe_next",
]


def __getattr__(name: str) -> object:
    # `JWTPolicy` is imported on first use: PyJWT is the optional extra
    # aiohttp_guard[jwt], and apps without it do not load it.
    if name == "JWTPolicy":
        from .policies import JWTPolicy  # noqa: PLC0415

        return JWTPolicy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
