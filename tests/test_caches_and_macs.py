"""The small building blocks under the codec: the keyed HMAC and the bounded
caches of verified tickets, rejected texts and users."""

# These tests look into the caches' internals on purpose.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import hmac

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard import InvalidTicket, TicketCodec
from aiohttp_guard._fifo_cache import FifoCache
from aiohttp_guard._keyed_mac import KeyedMac
from aiohttp_guard.tickets import (
    _MAX_REMEMBERED_REJECTION,
    _REJECTED_CACHE_SIZE,
    _VERIFIED_CACHE_SIZE,
)

from .conftest import SECRET


@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
def test_the_keyed_mac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    mac = KeyedMac(key)
    assert mac.digest(message) == hmac.digest(key, message, "sha256")
    # The keyed states are copied, never used up: a second message is right too.
    assert mac.digest(message + b"!") == hmac.digest(key, message + b"!", "sha256")


def test_the_keyed_mac_does_not_show_its_key() -> None:
    assert SECRET.hex() not in repr(KeyedMac(SECRET))
    assert repr(SECRET) not in repr(KeyedMac(SECRET))


@given(size=st.integers(1, 20), keys=st.lists(st.integers(0, 40), max_size=100))
def test_a_fifo_cache_keeps_the_newest_entries_up_to_its_size(
    size: int, keys: list[int]
) -> None:
    cache: FifoCache[int, str] = FifoCache(size)
    expected: dict[int, str] = {}
    for key in keys:
        if key in cache:
            continue  # the codec and the service only put what they missed
        assert cache.put(key, str(key)) == str(key)
        expected[key] = str(key)
        if len(expected) > size:
            del expected[next(iter(expected))]
        assert dict(cache) == expected
        assert len(cache) <= size


def test_the_codec_caches_a_bounded_number_of_verified_tickets() -> None:
    codec = TicketCodec(SECRET)
    texts = [
        codec.encode(codec.issue(f"user{i}", 60))
        for i in range(_VERIFIED_CACHE_SIZE + 5)
    ]
    for text in texts:
        codec.decode(text)
    for text in texts[:5] + texts[-5:]:  # forgotten ones are verified again
        assert codec.decode(text).user_id == f"user{texts.index(text)}"
    assert len(codec._verified) == _VERIFIED_CACHE_SIZE


class CountingMac(KeyedMac):
    """The same MAC, counting how often it is computed."""

    __slots__ = ("calls",)

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self.calls = 0

    def digest(self, message: bytes) -> bytes:
        self.calls += 1
        return super().digest(message)


def test_a_rejected_text_stays_rejected_for_the_same_reason_and_costs_no_mac() -> None:
    codec = TicketCodec(SECRET)
    mac = CountingMac(SECRET)
    key = codec._keys[codec.signing_key_id]
    counted = attrs.evolve(key, mac_v2=mac)
    codec._keys[key.key_id] = codec._keys_by_raw_id[key.raw_id] = counted
    valid = codec.encode(codec.issue("alice", 60))
    tampered = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
    other = TicketCodec(b"another secret, 32 bytes long..!")
    foreign = other.encode(other.issue("alice", 60))
    signed = mac.calls
    for text, reason in [
        (tampered, "bad signature"),
        (foreign, "unknown signing key"),
        ("v1.garbage", "malformed ticket"),
    ]:
        for _ in range(3):
            with pytest.raises(InvalidTicket) as raised:
                codec.decode(text)
            assert raised.value.reason == reason
    assert mac.calls == signed + 1  # the tampered text's MAC, computed once
    assert codec.decode(valid).user_id == "alice"


def test_rejections_are_bounded_and_never_evict_verified_tickets() -> None:
    codec = TicketCodec(SECRET)
    valid = codec.encode(codec.issue("alice", 60))
    codec.decode(valid)
    for i in range(_REJECTED_CACHE_SIZE + 10):
        with pytest.raises(InvalidTicket):
            codec.decode(f"v1.garbage{i}")
    too_long = "v1." + "x" * _MAX_REMEMBERED_REJECTION
    with pytest.raises(InvalidTicket):
        codec.decode(too_long)
    assert len(codec._rejected) == _REJECTED_CACHE_SIZE
    assert too_long not in codec._rejected
    assert valid in codec._verified
    assert codec.decode(valid).user_id == "alice"
