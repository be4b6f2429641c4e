"""The import path aiohttp_auth's documentation gives for ACL actions and
groups (`from aiohttp_auth.permissions import Group, Permission`), kept
under the new package name. The names live in `principals`."""

from .principals import (
    Allow,
    AuthenticatedUser,
    Deny,
    Everyone,
    Group,
    Permission,
    User,
)

__all__ = [
    "Allow",
    "AuthenticatedUser",
    "Deny",
    "Everyone",
    "Group",
    "Permission",
    "User",
]
