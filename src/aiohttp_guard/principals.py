"""Whom ACL entries name, and what they do: built-in groups, users, actions.

The names are aiohttp_auth's (`Permission.Allow`, `Group.Everyone`), so old
ACLs keep working; `User` is new: a principal for one user that can never be
mistaken for a group of the same name.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from typing import Final

import attrs

__all__ = [
    "Allow",
    "AuthenticatedUser",
    "Deny",
    "Everyone",
    "Group",
    "Permission",
    "Scope",
    "User",
    "principal_set",
]


class Permission(enum.Enum):
    """The action of an ACL entry."""

    Allow = "Allow"
    Deny = "Deny"

    def __repr__(self) -> str:
        return self.name


class Group(enum.Enum):
    """Groups every request belongs to, added by the service itself."""

    #: Every request, logged in or not.
    Everyone = "Everyone"
    #: Every request from a logged-in user.
    AuthenticatedUser = "AuthenticatedUser"

    # Members are singletons compared by identity, so hashing by identity
    # agrees with their equality, and runs in C: an ACL hashes each
    # principal when it decides for a new principal set, and Enum's Python
    # __hash__ adds 0.13 us to the 1.5 us of that check (benchmarks.micro
    # "a new user each time", 2026-11-30).
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return self.name


@attrs.frozen(cache_hash=True)
class User:
    """The principal of one user: `(Allow, User("alice"), "edit")`."""

    user_id: str

    def __repr__(self) -> str:
        return f"User({self.user_id!r})"


@attrs.frozen(cache_hash=True)
class Scope:
    """The principal of an access token's scope: `(Allow, Scope("notes:write"),
    "edit")` grants "edit" to requests whose token carries that scope. Never
    equal to a group or a user of the same name."""

    name: str

    def __repr__(self) -> str:
        return f"Scope({self.name!r})"


Allow: Final = Permission.Allow
Deny: Final = Permission.Deny
Everyone: Final = Group.Everyone
AuthenticatedUser: Final = Group.AuthenticatedUser


def principal_set(
    groups: Iterable[Hashable] | None, user: Hashable | None
) -> frozenset[Hashable] | None:
    """Whom a request speaks for: its `groups` and `Everyone`, and when a user
    is logged in, `AuthenticatedUser` and `user` (the user's principal).
    None when `groups` is None: the user is denied everything."""
    if groups is None:
        return None
    if isinstance(groups, str | bytes):
        raise TypeError(
            f"the groups of {user!r} are {groups!r}: a group resolver returns "
            "a tuple of groups, such as ('editors',), or None"
        )
    if user is None:
        return frozenset((*groups, Everyone))
    return frozenset((*groups, Everyone, AuthenticatedUser, user))
