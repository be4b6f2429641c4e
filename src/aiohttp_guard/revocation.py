"""Revocation: "log out everywhere" as a per-user *not before* time.

A ticket issued before its user's not-before time is refused, wherever it is
presented. Entries only need to live as long as a ticket issued before them
could: the service passes that lifetime as `ttl`, and stores forget entries
after it, never before an earlier revocation's `ttl` (services with different
ticket lifetimes may share a store).

`MemoryRevocationStore` serves one process; `RedisRevocationStore` shares the
times between every instance of an app through Redis (`redis.asyncio`), and
fails closed when Redis loses them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, cast

from ._revocation_scripts import MOVE_EPOCH, READ, REVOKE
from .audit import audit

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["MemoryRevocationStore", "RedisRevocationStore", "RevocationStore"]

DEFAULT_PREFIX: Final = "aiohttp_guard:not_before:"

log = logging.getLogger("aiohttp_guard")


class RevocationStore(Protocol):
    """Where not-before times are kept. Methods may raise when the store cannot
    be reached: the service then refuses identified requests (503).

    A store may also have an `async open()` method (not part of the protocol):
    the service calls it at app startup, logging a failure and going on.
    """

    async def not_before(self, user_id: str) -> int | None:
        """The user's not-before time in milliseconds since the epoch, if any."""
        ...

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        """Record `not_before_ms` for `user_id`, kept for `ttl` seconds (None:
        for good).

        An entry the user already has is never lowered nor shortened: it keeps
        the later of the two times, and the longer of the two lives (services
        with different ticket lifetimes may share one store)."""
        ...


class MemoryRevocationStore:
    """Not-before times in this process's memory: for a single instance."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, float]] = {}

    def __repr__(self) -> str:
        return f"MemoryRevocationStore({len(self._entries)} entries)"

    def __len__(self) -> int:
        """How many users have a not-before time (expired ones included until
        the next write)."""
        return len(self._entries)

    def __contains__(self, user_id: object) -> bool:
        """Whether `user_id` may have a not-before time (an expired one is
        dropped by the next look-up): a user without one needs no look-up."""
        return user_id in self._entries

    async def not_before(self, user_id: str) -> int | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        not_before, expires = entry
        if time.monotonic() >= expires:
            del self._entries[user_id]
            return None
        return not_before

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        now = time.monotonic()
        for user, (_, expires) in list(self._entries.items()):
            if now >= expires:
                del self._entries[user]
        expires = float("inf") if ttl is None else now + ttl
        kept = self._entries.get(user_id)
        if kept is not None:  # never lowered, never shortened
            not_before_ms, expires = max(not_before_ms, kept[0]), max(expires, kept[1])
        self._entries[user_id] = (not_before_ms, expires)


class RedisRevocationStore:
    """Not-before times in Redis, shared by every instance of the app.

    Args:
        redis_client: A `redis.asyncio.Redis`.
        prefix: Users' keys are `prefix + user id`, and expire with their
            `ttl` (a revocation never shortens nor lowers an entry already
            there); the store's own keys share the prefix. Default:
            "aiohttp_guard:not_before:".
        timeout: Seconds after which a call gives up, so that a Redis outage
            answers quickly (with a 503) instead of hanging requests.
            Default: 1.

    A Redis that loses data (restarted without persistence, flushed, evicting
    keys, restored from an older copy) would silently forget revocations, so
    the store fails closed instead: beside the users' keys it keeps its
    *epoch*, the time from which its memory is complete, a count of the
    revocations written since, and a random fingerprint of each of the latest
    revisions. Every answer is at least the epoch. Each instance remembers the
    latest revision it saw and that revision's fingerprint; when the epoch is
    missing or went back, the count went back, or the revision this instance
    saw holds another fingerprint (lost, then counted again by later
    revocations), the store has lost data: it moves the epoch to now (one log
    line; instances that notice together agree on one value) and every ticket
    issued before is refused. An instance idle for longer than the kept
    fingerprints (65536 revocations) cannot check the revision it saw, and
    goes on from the current one. A look-up is one round trip (one script),
    and so is a revocation. `open()`, which the service calls at startup,
    starts the epoch on an empty Redis before the first login.
    """

    __slots__ = (
        "_epoch_key",
        "_fingerprints_key",
        "_move_epoch",
        "_prefix",
        "_read",
        "_redis",
        "_revisions_key",
        "_revoke",
        "_seen",
        "_timeout",
    )

    def __init__(
        self,
        redis_client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
    ) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._timeout = timeout
        encoded_prefix = prefix.encode("utf-8", "surrogatepass")
        self._epoch_key = encoded_prefix + _EPOCH_SUFFIX
        self._revisions_key = encoded_prefix + _REVISIONS_SUFFIX
        self._fingerprints_key = encoded_prefix + _FINGERPRINTS_SUFFIX
        self._read = redis_client.register_script(READ)
        self._revoke = redis_client.register_script(REVOKE)
        self._move_epoch = redis_client.register_script(MOVE_EPOCH)
        # The latest revision this instance has seen, and its fingerprint:
        # Redis showing less, or another fingerprint for it, has lost writes.
        # None until the first answer.
        self._seen: _Seen | None = None

    def __repr__(self) -> str:
        return f"RedisRevocationStore(prefix={self._prefix!r})"

    def _key(self, user_id: str) -> bytes:
        return (self._prefix + user_id).encode("utf-8", "surrogatepass")

    async def open(self) -> None:
        """Make sure Redis holds the store's epoch, starting it now when it
        holds none. The service calls this at app startup; calling it again
        does no harm, and a store never opened opens on first use."""
        async with asyncio.timeout(self._timeout):
            await self._ask(None)

    async def not_before(self, user_id: str) -> int:
        async with asyncio.timeout(self._timeout):
            return await self._ask(self._key(user_id))

    async def _ask(self, key: bytes | None) -> int:
        """The not-before time of the user whose entry is `key` (None: the
        epoch), checking the store's state in the same round trip."""
        # What this instance knew before asking is what the answer must not
        # fall below: it was written before the question was sent.
        seen = self._seen
        keys = [self._epoch_key, self._revisions_key, self._fingerprints_key]
        if key is not None:
            keys.append(key)
        reply = await self._read(keys=keys, args=self._script_args(seen))
        epoch, revisions, kept, latest, entry = cast(
            "tuple[_Reply, _Reply, _Reply, _Reply, _Reply]", reply
        )
        count = _count(revisions)
        start = await self._check(seen, epoch, count, kept, (count, _fp(latest)))
        return start if entry is None else max(start, int(entry))

    async def revoke(self, user_id: str, not_before_ms: int, ttl: float | None) -> None:
        px = "" if ttl is None else str(max(1, round(ttl * 1000)))
        fingerprint = secrets.token_hex(_FINGERPRINT_BYTES).encode()
        seen = self._seen
        keys = [
            self._key(user_id),
            self._epoch_key,
            self._revisions_key,
            self._fingerprints_key,
        ]
        args = [*self._script_args(seen), str(not_before_ms), px, fingerprint]
        async with asyncio.timeout(self._timeout):
            reply = await self._revoke(keys=keys, args=args)
            epoch, before, kept, revision = cast(
                "tuple[_Reply, _Reply, _Reply, int]", reply
            )
            await self._check(
                seen, epoch, _count(before), kept, (revision, fingerprint)
            )

    @staticmethod
    def _script_args(seen: _Seen | None) -> list[bytes | str | int]:
        """The arguments both scripts begin with: the revision whose
        fingerprint this instance checks (0: none), and the ring's shape."""
        return [0 if seen is None else seen.revision, _FINGERPRINTS_KEPT, _FP_WIDTH]

    async def _check(
        self,
        seen: _Seen | None,
        epoch: _Reply,
        count: int,
        kept: _Reply,
        latest: _Latest,
    ) -> int:
        """The epoch, from an answer of Redis's that is no older than `seen`;
        after a loss, a new epoch from now on.

        `count` is the number of revisions Redis held, `kept` the fingerprint
        it held for `seen`'s revision, and `latest` the revision and
        fingerprint this answer leaves it at (its epoch aside)."""
        if epoch is None:
            return await self._new_epoch(seen, None, latest, _GONE)
        current = int(epoch)
        if seen is not None:
            lost = self._loss(seen, current, count, kept)
            if lost is not None:
                return await self._new_epoch(seen, epoch, latest, lost)
        self._learn(_Seen(current, *latest))
        return current

    def _loss(self, seen: _Seen, epoch: int, count: int, kept: _Reply) -> str | None:
        """Why an answer shows that Redis lost writes this instance saw, or
        None when it does not."""
        if epoch != seen.epoch:
            # A later epoch is another instance's answer to a loss: it counts.
            return None if epoch > seen.epoch else _WENT_BACK
        if count < seen.revision:
            return _WENT_BACK
        if not seen.revision:
            return None
        if count - seen.revision >= _FINGERPRINTS_KEPT:
            # Its fingerprint is no longer kept: this instance cannot tell,
            # and its being idle is no loss. Instances that were not idle
            # checked the revisions in between.
            log.debug(
                "aiohttp_guard: revocation store %r: revision %d, the latest this "
                "instance saw, is older than the %d whose fingerprints are kept; "
                "going on from revision %d",
                self,
                seen.revision,
                _FINGERPRINTS_KEPT,
                count,
            )
            return None
        if _fp(kept) != seen.fingerprint:
            return _REWRITTEN
        return None

    def _learn(self, state: _Seen) -> None:
        seen = self._seen
        if seen is None or (state.epoch, state.revision) > (seen.epoch, seen.revision):
            self._seen = state

    async def _new_epoch(
        self, seen: _Seen | None, epoch: _Reply, latest: _Latest, why: str
    ) -> int:
        """Move the epoch to now, unless another instance just did: whoever
        changes it first decides, and only they log it."""
        expected = b"" if epoch is None else _as_bytes(epoch)
        # Never back: an epoch set by a clock ahead of this one stays.
        floor = 0 if seen is None else seen.epoch + 1
        for _ in range(_NEW_EPOCH_ATTEMPTS):
            if expected:
                floor = max(floor, int(expected) + 1)
            # As in logout_everywhere, tickets issued in this very millisecond
            # are refused too: the epoch is the next one.
            proposal = max(int(time.time() * 1000) + 1, floor)
            reply = await self._move_epoch(
                keys=[self._epoch_key], args=[expected, proposal]
            )
            moved, held = cast("tuple[int, bytes | str]", reply)
            current = _as_bytes(held)
            if moved:
                _log_new_epoch(self, seen, why, proposal)
                # What this answer read is the state after the loss, and the
                # first of the new epoch.
                self._learn(_Seen(proposal, *latest))
                # ...and this returns once it has come, so that a login right
                # after (or the rest of a logout_everywhere) is not refused.
                wait = proposal / 1000 - time.time()
                if 0 < wait <= _LONGEST_WAIT:
                    await asyncio.sleep(wait)
                return proposal
            if current and (seen is None or int(current) > seen.epoch):
                # Another instance moved it: theirs counts. Its revisions are
                # learnt from the next answer.
                self._learn(_Seen(int(current), 0, None))
                return int(current)
            expected = current
        raise RuntimeError(f"the epoch of {self!r} keeps changing")


@dataclass(frozen=True, slots=True)
class _Seen:
    """A state of the store that an instance has read: its epoch, the count of
    revisions, and the fingerprint of the latest (None when it has none: no
    revision yet, or one written by an earlier version of this library)."""

    epoch: int
    revision: int
    fingerprint: bytes | None


_Reply: TypeAlias = bytes | str | None
#: A revision and its fingerprint (None when it has none).
_Latest: TypeAlias = tuple[int, bytes | None]

# Suffixes no user id produces (the byte 0xFF never occurs in UTF-8), so the
# store's own keys share the users' prefix without clashing with any of them.
_EPOCH_SUFFIX: Final = b"\xffepoch"
_REVISIONS_SUFFIX: Final = b"\xffrevisions"
_FINGERPRINTS_SUFFIX: Final = b"\xfffingerprints"

#: How many of the latest revisions keep their fingerprint: each takes
#: `_FP_WIDTH` bytes of one Redis string, a ring of 1 MiB at most.
_FINGERPRINTS_KEPT: Final = 65536
#: Random bytes in a fingerprint, written as hexadecimal digits.
_FINGERPRINT_BYTES: Final = 8
_FP_WIDTH: Final = 2 * _FINGERPRINT_BYTES

_NEW_EPOCH_ATTEMPTS: Final = 3
#: How long a new epoch may be ahead of this clock for the store to wait for it.
_LONGEST_WAIT: Final = 0.01

_GONE: Final = (
    "its epoch key is gone: Redis restarted without persistence, was flushed, "
    "or evicted it"
)
_WENT_BACK: Final = (
    "it holds less than this instance saw: Redis restarted from an older copy, "
    "or lost recent writes"
)
_REWRITTEN: Final = (
    "it holds other revocations than this instance saw: Redis restarted from "
    "an older copy, or lost recent writes, and revocations were made since"
)


def _as_bytes(value: bytes | str) -> bytes:
    """A reply as bytes, whether or not the client decodes responses."""
    return value if isinstance(value, bytes) else value.encode()


def _count(revisions: _Reply) -> int:
    return 0 if revisions is None else int(revisions)


def _fp(reply: _Reply) -> bytes | None:
    """A fingerprint read from the ring; None for a slot never written."""
    if reply is None:
        return None
    fingerprint = _as_bytes(reply)
    return fingerprint if fingerprint.strip(b"\0") else None


def _log_new_epoch(
    store: RedisRevocationStore, seen: _Seen | None, why: str, epoch_ms: int
) -> None:
    since = datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(
        timespec="milliseconds"
    )
    if seen is None:
        audit(
            "store",
            logging.WARNING,
            f"aiohttp_guard: revocation store {store!r} found no record of its "
            "epoch in Redis (a new Redis, one used by an earlier version, or one "
            f"that lost its data): refusing every ticket issued before {since}",
            store=repr(store),
            state="new_epoch",
            epoch=since,
        )
        return
    audit(
        "store",
        logging.ERROR,
        f"aiohttp_guard: revocation store {store!r} lost data ({why}): refusing "
        f"every ticket issued before {since}, users log in again",
        store=repr(store),
        state="lost_data",
        epoch=since,
    )
