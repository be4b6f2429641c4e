"""The small building blocks under the codec: the keyed HMAC and the bounded
caches of verified tickets and users."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard import TicketCodec
from aiohttp_guard._fifo_cache import FifoCache
from aiohttp_guard._keyed_mac import KeyedMac
from aiohttp_guard.tickets import _VERIFIED_CACHE_SIZE

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
