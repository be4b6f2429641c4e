"""Authentication and authorization for aiohttp servers.

One `AuthService` per app owns the authentication policy and the group
resolver; guards such as `Authenticated()` and `Requires("edit", acl)` protect
handlers and views. The functional API of the old aiohttp_auth package lives
on in `aiohttp_guard.auth` and `aiohttp_guard.acl`.
"""

from . import acl, auth
from ._routes import RouteGuard
from .access_control import ACE, ACL, ALL_PERMISSIONS, Decision, EntryTuple
from .auth import forget, get_auth, remember
from .checks import check_app
from .configuration import ConfigurationWarning
from .contexts import Context
from .cross_origin import CrossOriginProtection, csrf_exempt
from .guards import AllOf, AnyOf, Authenticated, BaseGuard, Guard, Public, Requires
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
    User,
)
from .redirects import is_safe_next, safe_next
from .redis_sessions import RedisSessionRegistry
from .refusals import DefaultErrorHandler, ErrorHandler, preferred_format
from .request_context import RequestContext
from .revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from .service import AuthService, GroupResolver, Groups
from .tickets import InvalidTicket, Ticket, TicketCodec

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
