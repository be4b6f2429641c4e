"""The demo's user directory: salted password hashes, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Hashable, Iterable

__all__ = ["GROUPS", "check_password", "groups"]

_ITERATIONS = 50_000


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS)


def _record(password: str) -> tuple[bytes, bytes]:
    salt = os.urandom(16)
    return salt, _hash(password, salt)


# The users and groups of the aiohttp_auth documentation's example.
_PASSWORDS = {"user": _record("password"), "super_user": _record("super_password")}
GROUPS: dict[str, tuple[str, ...]] = {"user": (), "super_user": ("edit_group",)}
# Unknown users are checked against this record, so that answering takes as
# long for them as for a wrong password.
_NOBODY = _record(os.urandom(16).hex())


def check_password(user_id: str, password: str) -> bool:
    """Whether `password` is `user_id`'s; as slow for unknown users."""
    salt, expected = _PASSWORDS.get(user_id, _NOBODY)
    matches = hmac.compare_digest(_hash(password, salt), expected)
    return matches and user_id in _PASSWORDS


async def groups(user_id: str | None) -> Iterable[Hashable] | None:
    """The group resolver: anonymous users and unknown ids have no groups."""
    return GROUPS.get(user_id or "", ())
