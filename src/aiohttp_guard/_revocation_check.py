"""The service's use of its revocation store: is this identity revoked?

Beside the stores (`revocation`), and the one place that asks them during a
request: an unanswered look-up raises (the caller answers 503, failing
closed), and an outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .audit import audit
from .identity import Identity
from .revocation import (
    Known,
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
    Unknown,
)

__all__ = ["RevocationCheck", "known_not_before", "revoked_by"]

log = logging.getLogger("aiohttp_guard")


def revoked_by(identity: Identity, not_before: int | None) -> bool:
    """Whether a not-before time covers `identity`: issued before it, or
    renewed from a login made before it. No issue time: covered."""
    if not_before is None:
        return False
    issued = identity.issued_ms
    if issued is None:
        return True
    login = identity.login_ms
    return issued < not_before or (login is not None and login < not_before)


class RevocationCheck:
    """Asks `store` whether identities are revoked, and records revocations.

    Args:
        store: Where not-before times are kept.
        ttl: How long, in seconds, a revocation must be kept: as long as a
            ticket issued before it can stay valid. None keeps it for good.
    """

    def __init__(self, store: RevocationStore, ttl: float | None) -> None:
        self.store = store
        self.ttl = ttl
        self._known = known_not_before(store)
        self.down = False
        self._warned_no_issue_time = False

    def __repr__(self) -> str:
        return f"RevocationCheck({self.store!r}, ttl={self.ttl!r})"

    def known_revoked(self, identity: Identity, key: str | None = None) -> bool | None:
        """Whether `identity` was revoked, when the store tells without a
        look-up (a memory store; a Redis store's copy in memory); None when
        `revoked` must be awaited. Most requests then cost no coroutine
        (benchmarks.inprocess). The entry looked up is the user's, or `key`."""
        known = self._known
        if known is None:
            return None
        not_before = known(identity.user_id if key is None else key)
        if not_before is Unknown.UNKNOWN:
            return None
        if self.down:
            self._answers_again()
        if not_before is None:  # never revoked: the usual answer
            return False
        if identity.issued_ms is None:
            self._warn_no_issue_time()
        return revoked_by(identity, not_before)

    async def revoked(self, identity: Identity, key: str | None = None) -> bool:
        """Whether `identity` was revoked (by the user's entry, or `key`'s);
        raises what the store raised when it does not answer."""
        try:
            not_before = await self.store.not_before(
                identity.user_id if key is None else key
            )
        except Exception as exc:
            self.store_failed(exc)
            raise
        if self.down:
            self._answers_again()
        if identity.issued_ms is None and not_before is not None:
            self._warn_no_issue_time()
        return revoked_by(identity, not_before)

    def _answers_again(self) -> None:
        self.down = False
        audit(
            "store",
            logging.WARNING,
            f"aiohttp_guard: revocation store {self.store!r} answers again",
            store=repr(self.store),
            state="up",
        )

    def store_failed(self, exc: BaseException, *, at_startup: bool = False) -> None:
        """Record that the store did not answer: logged once per outage."""
        if self.down:
            return
        self.down = True
        when = "could not be opened at startup" if at_startup else "unreachable"
        audit(
            "store",
            logging.ERROR,
            f"aiohttp_guard: revocation store {self.store!r} {when}, refusing "
            f"identified requests until it answers: {exc!r}",
            store=repr(self.store),
            state="down",
            error=type(exc).__name__,
        )

    async def revoke(self, user_id: str, not_before: int | None = None) -> None:
        """Refuse every ticket of `user_id` (or of the entry of that key)
        issued before now, or before `not_before` (ms); returns once tickets
        issued afterwards are no longer covered. Raises what the store
        raised when it does not answer."""
        if not_before is None:
            # Tickets tell their issue time in milliseconds: one issued earlier
            # in this very millisecond must be revoked too, so the limit is the
            # next one, and this returns only once it has come, so that
            # tickets issued afterwards (this device's new login) are not.
            not_before = int(time.time() * 1000) + 1
        try:
            await self.store.revoke(user_id, not_before, self.ttl)
        except Exception as exc:
            self.store_failed(exc)
            raise
        wait = not_before / 1000 - time.time()
        if 0 < wait < 1:
            await asyncio.sleep(wait)

    def _warn_no_issue_time(self) -> None:
        if not self._warned_no_issue_time:
            self._warned_no_issue_time = True
            log.warning(
                "aiohttp_guard: an identity with no issue time was checked "
                "against %r, so any revocation of its user (and the epoch a "
                "RedisRevocationStore keeps) refuses it: set Identity.issued_ms "
                "in your policy's identify()",
                self.store,
            )


def known_not_before(store: RevocationStore) -> Callable[[str], Known] | None:
    """The store's answer without a look-up, where its own look-up is the one
    asked: a subclass with a look-up of its own (another source) is always
    asked."""
    for kind in (MemoryRevocationStore, RedisRevocationStore):
        if isinstance(store, kind) and type(store).not_before is kind.not_before:
            return store.known_not_before
    return None
