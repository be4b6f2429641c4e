"""A map of names to times that only go up, kept in Redis, that fails closed
when Redis loses data, and publishes every change.

The shared store of revocations (and of anything else with the same shape: a
time per name, never lowered, that may expire) is built on it. Its memory
copy, which spares a round trip per request, is `_times_mirror`.

Beside the entries, Redis holds the map's *epoch*, the time from which its
memory is complete, a count of the writes since (revisions), and a random
fingerprint of each of the latest revisions. Every answer is at least the
epoch. Each instance remembers the latest revision it saw and that revision's
fingerprint; when the epoch is missing or went back, the count went back, or
the revision this instance saw holds another fingerprint (lost, then counted
again by later writes), Redis has lost data: the epoch moves to now (one log
line; instances that notice together agree on one value).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, NamedTuple, TypeAlias, cast

from ._redis_times_scripts import MOVE_EPOCH, READ, REVOKE
from .audit import audit

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Entry", "RedisTimes", "State", "Write", "as_bytes"]

log = logging.getLogger("aiohttp_guard")


class State(NamedTuple):
    """What a read showed of the map as a whole: its epoch (after any loss
    it revealed) and its count of revisions."""

    epoch: int
    revisions: int


class Write(NamedTuple):
    """What an entry holds after a write: the time, and the milliseconds it
    has left (None: kept for good)."""

    time: int
    ms_left: int | None


class Entry(NamedTuple):
    """An entry read from Redis: its name, its time (None when Redis holds
    something that is not a time) and its milliseconds left (None: for
    good)."""

    name: str
    time: int | None
    ms_left: int | None


class RedisTimes:
    """Times per name in Redis (`redis.asyncio`), under `prefix`.

    Args:
        redis_client: A `redis.asyncio.Redis`.
        prefix: Entries' keys are `prefix + name`; the map's own keys share
            the prefix, with suffixes no name produces, and so does its
            channel, `prefix + "changes"`.
        label: How log lines name the map (the owner's repr).
    """

    __slots__ = (
        "_epoch_key",
        "_fingerprints_key",
        "_move_epoch",
        "_read",
        "_redis",
        "_revisions_key",
        "_revoke",
        "_seen",
        "channel",
        "label",
        "prefix",
    )

    def __init__(self, redis_client: Redis, prefix: str, label: str) -> None:
        self._redis = redis_client
        self.prefix = prefix.encode("utf-8", "surrogatepass")
        self.label = label
        self._epoch_key = self.prefix + _EPOCH_SUFFIX
        self._revisions_key = self.prefix + _REVISIONS_SUFFIX
        self._fingerprints_key = self.prefix + _FINGERPRINTS_SUFFIX
        #: Where every change is published (see `_redis_times_scripts`).
        self.channel = self.prefix + _CHANNEL_SUFFIX
        self._read = redis_client.register_script(READ)
        self._revoke = redis_client.register_script(REVOKE)
        self._move_epoch = redis_client.register_script(MOVE_EPOCH)
        # The latest revision this instance has seen, and its fingerprint:
        # Redis showing less, or another fingerprint for it, has lost writes.
        # None until the first answer.
        self._seen: _Seen | None = None

    def key(self, name: str) -> bytes:
        return self.prefix + name.encode("utf-8", "surrogatepass")

    def name_of(self, key: bytes) -> str | None:
        """The name whose entry `key` is; None for a key that is not one."""
        prefix = self.prefix
        if not key.startswith(prefix) or key[len(prefix) : len(prefix) + 1] == b"\xff":
            return None
        return key[len(prefix) :].decode("utf-8", "surrogatepass")

    async def read(self, name: str) -> int:
        """The time of `name`'s entry, at least the epoch, checking the map's
        state in the same round trip."""
        state, entry = await self._ask(self.key(name))
        return state.epoch if entry is None else max(state.epoch, int(entry))

    async def state(self) -> State:
        """The map's epoch and revisions, checked for loss (which moves the
        epoch); also starts the epoch on an empty Redis."""
        state, _ = await self._ask(None)
        return state

    async def _ask(self, key: bytes | None) -> tuple[State, _Reply]:
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
        return State(start, count), entry

    async def write(self, name: str, time_ms: int, ttl: float | None) -> Write:
        """Raise `name`'s entry to `time_ms` (never lowered), kept for `ttl`
        seconds at least (None: for good; never shortened), and publish it."""
        px = "" if ttl is None else str(max(1, round(ttl * 1000)))
        fingerprint = secrets.token_hex(_FINGERPRINT_BYTES).encode()
        seen = self._seen
        keys = [
            self.key(name),
            self._epoch_key,
            self._revisions_key,
            self._fingerprints_key,
        ]
        args = [
            *self._script_args(seen),
            str(time_ms),
            px,
            fingerprint,
            self.channel,
        ]
        reply = await self._revoke(keys=keys, args=args)
        epoch, before, kept, revision, held, left = cast(
            "tuple[_Reply, _Reply, _Reply, int, bytes | str, int]", reply
        )
        await self._check(seen, epoch, _count(before), kept, (revision, fingerprint))
        return Write(int(held), None if left < 0 else left)

    async def entries(self, redis: Redis, give_up_after: float) -> AsyncIterator[Entry]:
        """Every entry Redis holds now, read through `redis` (a client that
        does not decode responses), in batches (SCAN; each round trip given
        up after `give_up_after` seconds): not one snapshot, which is enough
        for times that only go up when the changes made meanwhile are read
        from the channel."""
        # The pattern leaves out the map's own keys (whose names are not
        # UTF-8) but needs a byte after the prefix: the empty name's key, the
        # prefix itself, is read on its own.
        pattern = _glob_escape(self.prefix) + b"[^\xff]*"
        yield_empty = True
        cursor: int = 0
        while True:
            async with asyncio.timeout(give_up_after):
                found = await redis.scan(  # pyright: ignore[reportUnknownMemberType]
                    cursor, match=pattern, count=_SCAN_BATCH
                )
                cursor, keys = found
            batch = [as_bytes(key) for key in keys]
            if yield_empty:
                batch.append(self.prefix)
                yield_empty = False
            async with (
                asyncio.timeout(give_up_after),
                redis.pipeline(transaction=False) as pipe,
            ):
                for key in batch:
                    pipe.get(key)
                    pipe.pttl(key)
                # A key of another type answers an error: its name is then
                # always asked of Redis, the others are copied.
                replies = cast(
                    "list[_Reply | int | Exception]",
                    await pipe.execute(raise_on_error=False),
                )
            for at, key in enumerate(batch):
                try:
                    name = self.name_of(key)
                except UnicodeDecodeError:
                    continue  # not a name's key: no str encodes to it
                value, left = replies[2 * at], replies[2 * at + 1]
                if name is None or value is None or left == -2:
                    continue  # another map's key, or gone meanwhile
                if isinstance(value, Exception) or isinstance(left, Exception):
                    yield Entry(name, None, None)
                    continue
                ms_left = cast("int", left)
                yield Entry(
                    name,
                    _time_or_none(cast("bytes | str", value)),
                    None if ms_left < 0 else ms_left,
                )
            if not int(cursor):
                return

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
                "aiohttp_guard: %s: revision %d, the latest this instance saw, "
                "is older than the %d whose fingerprints are kept; going on "
                "from revision %d",
                self.label,
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
        expected = b"" if epoch is None else as_bytes(epoch)
        # Never back: an epoch set by a clock ahead of this one stays.
        floor = 0 if seen is None else seen.epoch + 1
        for _ in range(_NEW_EPOCH_ATTEMPTS):
            if expected:
                floor = max(floor, int(expected) + 1)
            # As in logout_everywhere, tickets issued in this very millisecond
            # are refused too: the epoch is the next one.
            proposal = max(int(time.time() * 1000) + 1, floor)
            reply = await self._move_epoch(
                keys=[self._epoch_key], args=[expected, proposal, self.channel]
            )
            moved, held = cast("tuple[int, bytes | str]", reply)
            current = as_bytes(held)
            if moved:
                _log_new_epoch(self.label, seen, why, proposal)
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
        raise RuntimeError(f"the epoch of {self.label} keeps changing")


@dataclass(frozen=True, slots=True)
class _Seen:
    """A state of the map that an instance has read: its epoch, the count of
    revisions, and the fingerprint of the latest (None when it has none: no
    revision yet, or one written by an earlier version of this library)."""

    epoch: int
    revision: int
    fingerprint: bytes | None


_Reply: TypeAlias = bytes | str | None
#: A revision and its fingerprint (None when it has none).
_Latest: TypeAlias = tuple[int, bytes | None]

# Suffixes no name produces (the byte 0xFF never occurs in UTF-8), so the
# map's own keys share the entries' prefix without clashing with any of them.
_EPOCH_SUFFIX: Final = b"\xffepoch"
_REVISIONS_SUFFIX: Final = b"\xffrevisions"
_FINGERPRINTS_SUFFIX: Final = b"\xfffingerprints"
# Channels are not keys, so this one needs no such suffix; and as valid UTF-8
# it stays readable by clients that decode responses.
_CHANNEL_SUFFIX: Final = b"changes"

#: How many of the latest revisions keep their fingerprint: each takes
#: `_FP_WIDTH` bytes of one Redis string, a ring of 1 MiB at most.
_FINGERPRINTS_KEPT: Final = 65536
#: Random bytes in a fingerprint, written as hexadecimal digits.
_FINGERPRINT_BYTES: Final = 8
_FP_WIDTH: Final = 2 * _FINGERPRINT_BYTES

#: Keys asked of SCAN at a time when reading every entry.
_SCAN_BATCH: Final = 1000

_NEW_EPOCH_ATTEMPTS: Final = 3
#: How long a new epoch may be ahead of this clock for the map to wait for it.
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


def as_bytes(value: bytes | str) -> bytes:
    """A reply as bytes, whether or not the client decodes responses (a
    name that is not UTF-8 comes back as it was written)."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _count(revisions: _Reply) -> int:
    return 0 if revisions is None else int(revisions)


def _time_or_none(value: bytes | str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _fp(reply: _Reply) -> bytes | None:
    """A fingerprint read from the ring; None for a slot never written."""
    if reply is None:
        return None
    fingerprint = as_bytes(reply)
    return fingerprint if fingerprint.strip(b"\0") else None


def _glob_escape(text: bytes) -> bytes:
    """`text` matched literally by a Redis glob pattern."""
    for special in (b"\\", b"*", b"?", b"[", b"]"):
        text = text.replace(special, b"\\" + special)
    return text


def _log_new_epoch(label: str, seen: _Seen | None, why: str, epoch_ms: int) -> None:
    since = datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(
        timespec="milliseconds"
    )
    if seen is None:
        audit(
            "store",
            logging.WARNING,
            f"aiohttp_guard: {label} found no record of its epoch in Redis (a "
            "new Redis, one used by an earlier version, or one that lost its "
            f"data): refusing every ticket issued before {since}",
            store=label,
            state="new_epoch",
            epoch=since,
        )
        return
    audit(
        "store",
        logging.ERROR,
        f"aiohttp_guard: {label} lost data ({why}): refusing every ticket issued "
        f"before {since}, users log in again",
        store=label,
        state="lost_data",
        epoch=since,
    )
