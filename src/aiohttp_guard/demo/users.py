"""The demo's user directory: salted password hashes, checked in constant time.

Passwords are hashed with PBKDF2-HMAC-SHA256 at 600,000 iterations, OWASP's
current figure for it. PBKDF2 comes with Python (`hashlib`), so the demo needs
no dependency beyond the library's; an application free to add one may prefer
argon2id (`argon2-cffi`), which also costs memory and so resists GPUs better.
A check takes a few hundred milliseconds of CPU: call `check_password` off the
event loop (`loop.run_in_executor`), as the demo's login handler does.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Hashable, Iterable

__all__ = ["GROUPS", "ITERATIONS", "check_password", "groups", "hash_password"]

ITERATIONS = 600_000
_SCHEME = "pbkdf2_sha256"


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    """A new stored form of `password`, with a random salt:
    `pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`. The count travels
    with the hash, so raising `ITERATIONS` later leaves old hashes valid."""
    salt = os.urandom(16)
    digest = _derive(password, salt, iterations)
    return f"{_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def _derive(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


# The users and groups of the aiohttp_auth documentation's example. The hashes
# were made once with `hash_password("password")` and
# `hash_password("super_password")`: stored, not computed at import, which
# would cost every start a second of CPU.
_HASHES = {
    "user": "pbkdf2_sha256$600000$9e4b3e297f0172b8141fc2a190fbe7b6$"
    "d58c78796fbd4d89cda8e983c5f9a725dc1824b68d1fce8e2db140d9aa367e6d",
    "super_user": "pbkdf2_sha256$600000$d6833cc24e25405feca6f8f82f33b55e$"
    "5a5cd761d29d87539b1e402fa541e4432dcf89cd3184079ccdff601d651e6e1c",
}
GROUPS: dict[str, tuple[str, ...]] = {"user": (), "super_user": ("edit_group",)}
# Unknown users are checked against this stand-in, so that answering takes as
# long for them as for a wrong password. Its hash is random bytes, which no
# password derives to.
_NOBODY = (
    "pbkdf2_sha256$600000$a6fd0ce52daee51d70a270a28dab5a3c$"
    "de5d13b801fbbbd15202b111145f46a568da03e6f8844a107bf016407cc775c4"
)


def check_password(user_id: str, password: str) -> bool:
    """Whether `password` is `user_id`'s; as slow for unknown users.
    Blocking: run it in an executor from async code."""
    scheme, iterations, salt, expected = _HASHES.get(user_id, _NOBODY).split("$")
    if scheme != _SCHEME:
        raise ValueError(f"not a {_SCHEME} hash: {scheme!r}")
    derived = _derive(password, bytes.fromhex(salt), int(iterations))
    matches = hmac.compare_digest(derived, bytes.fromhex(expected))
    return matches and user_id in _HASHES


async def groups(user_id: str | None) -> Iterable[Hashable] | None:
    """The group resolver: anonymous users and unknown ids have no groups."""
    return GROUPS.get(user_id or "", ())
