"""A ticket text seen before is judged from what the policy remembers of it:
the answer must be the one a policy seeing it for the first time gives, at
every instant, including the boundaries of expiry, max_lifetime, clock skew
and renewal."""

# pyright: reportPrivateUsage=false

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard import BearerTicketPolicy, CookieTicketPolicy, TicketCodec
from aiohttp_guard.policies._ticketing import TicketPolicyBase

from .conftest import OTHER_SECRET, SECRET, Clock

REQUEST = make_mocked_request("GET", "/")
START = 1_700_000_000.0


@given(
    max_age=st.integers(2, 10_000),
    reissue_share=st.none() | st.floats(0.001, 0.999),
    extra_life=st.none() | st.integers(0, 10_000),
    retiring=st.booleans(),
    offsets_ms=st.lists(st.integers(-6_000, 20_000_000), min_size=1, max_size=8),
)
def test_a_ticket_seen_before_is_judged_as_a_new_one(
    max_age: int,
    reissue_share: float | None,
    extra_life: int | None,
    retiring: bool,
    offsets_ms: list[int],
) -> None:
    clock = Clock(START)
    secrets = [OTHER_SECRET, SECRET] if retiring else [SECRET]
    reissue = None if reissue_share is None else max_age * reissue_share
    lifetime = None if extra_life is None else max_age + extra_life

    def policy() -> CookieTicketPolicy:
        codec = TicketCodec(secrets, clock=clock)
        return CookieTicketPolicy(
            codec, max_age, reissue_time=reissue, max_lifetime=lifetime
        )

    signer = TicketCodec(SECRET, clock=clock)
    text = signer.encode(signer.issue("alice", max_age, max_lifetime=lifetime))
    warm = policy()
    # Issued by an instance whose clock runs ahead (within the skew).
    clock.now = START - 4.0
    warm.recognize(REQUEST, text)
    points = sorted(
        {o for offset in offsets_ms for o in (offset - 1, offset, offset + 1)}
    )
    for offset in points:
        clock.now = START + offset / 1000
        seen, new = warm.recognize(REQUEST, text), policy().recognize(REQUEST, text)
        assert (seen is None) == (new is None), offset
        if seen is None or new is None:
            continue
        now = warm.codec.now_ms()
        due = retiring or (
            reissue is not None and new.ticket.expires_ms - now < reissue * 1000
        )
        assert (now >= seen.renew_from_ms) == due, offset
        assert seen.identity == new.identity


def test_seen_tickets_are_bounded_and_bound_ones_are_never_remembered() -> None:
    codec = TicketCodec(SECRET)
    policy: TicketPolicyBase = BearerTicketPolicy(codec, 60)
    texts = [codec.encode(codec.issue(f"u{i}", 60)) for i in range(5000)]
    for text in texts:
        assert policy.recognize(REQUEST, text) is not None
    assert len(policy._recognized) == 4096
    assert texts[-1] in policy._recognized
    bound = BearerTicketPolicy(codec, 60, include_ip=True)
    text = codec.encode(codec.issue("alice", 60, ip="192.0.2.1"))
    here, elsewhere = (REQUEST.clone(remote=ip) for ip in ("192.0.2.1", "192.0.2.2"))
    for _ in range(2):  # the address is the request's: checked every time
        assert bound.recognize(here, text) is not None
        assert bound.recognize(elsewhere, text) is None
    assert len(bound._recognized) == 0


def test_a_ticket_is_kept_once_by_the_policy_or_by_its_codec() -> None:
    """A policy keeps the tickets it recognizes; its codec does not keep
    them a second time (with more clients than either keeps, every new
    client's request paid for a second entry), but keeps those bound to an
    address, which the policy verifies on every request."""
    codec = TicketCodec(SECRET)
    policy: TicketPolicyBase = BearerTicketPolicy(codec, 60)
    text = codec.encode(codec.issue("alice", 60))
    assert policy.recognize(REQUEST, text) is not None
    assert text in policy._recognized
    assert text not in codec._verified
    assert policy.verify(REQUEST, text) is not None  # a direct call is kept
    assert text in codec._verified
    bound_codec = TicketCodec(SECRET)
    bound = BearerTicketPolicy(bound_codec, 60, include_ip=True)
    text = bound_codec.encode(bound_codec.issue("alice", 60, ip="192.0.2.1"))
    here = REQUEST.clone(remote="192.0.2.1")
    assert bound.recognize(here, text) is not None
    assert text in bound_codec._verified
    assert text not in bound._recognized
