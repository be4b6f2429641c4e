"""The ticket codec: round trips, tampering, keys, time and addresses."""

from __future__ import annotations

import base64
import hmac
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard import InvalidTicket, Ticket, TicketCodec
from aiohttp_guard.tickets import MAX_TICKET_LENGTH

from .conftest import OTHER_SECRET, SECRET, Clock

COOKIE_SAFE = set(string.ascii_letters + string.digits + "-_~.")
texts = st.text()  # any str, lone surrogates included


def make(codec: TicketCodec, user_id: str = "alice", **kwargs: object) -> str:
    return codec.encode(codec.issue(user_id, 60, **kwargs))  # type: ignore[arg-type]


@given(
    user_id=texts,
    tokens=st.lists(texts, max_size=4),
    user_data=texts,
    ip=st.none() | st.ip_addresses().map(str),
)
def test_every_ticket_round_trips_in_cookie_safe_text(
    user_id: str, tokens: list[str], user_data: str, ip: str | None
) -> None:
    codec = TicketCodec(SECRET)
    ticket = codec.issue(user_id, 60, ip=ip, tokens=tokens, user_data=user_data)
    text = codec.encode(ticket)
    assert set(text) <= COOKIE_SAFE
    assert codec.decode(text, ip=ip) == ticket


@pytest.mark.parametrize(
    "user_id", ["", "a b", 'q"uote', "back\\slash", "!,;=", "ünï©ødé"]
)
def test_awkward_user_ids_round_trip(user_id: str) -> None:
    codec = TicketCodec(SECRET)
    assert codec.decode(make(codec, user_id)).user_id == user_id


@given(data=st.data())
def test_any_single_character_change_is_rejected(data: st.DataObject) -> None:
    codec = TicketCodec(SECRET)
    text = make(codec, "alice", tokens=["t"], user_data="d")
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != text[index]))
    with pytest.raises(InvalidTicket):
        codec.decode(text[:index] + replacement + text[index + 1 :])


@given(data=st.data())
def test_truncation_and_extension_are_rejected(data: st.DataObject) -> None:
    codec = TicketCodec(SECRET)
    text = make(codec)
    cut = data.draw(st.integers(0, len(text) - 1))
    extra = data.draw(st.text(min_size=1))
    with pytest.raises(InvalidTicket):
        codec.decode(text[:cut])
    with pytest.raises(InvalidTicket):
        codec.decode(text + extra)


@given(garbage=st.text(max_size=300))
def test_arbitrary_text_is_rejected_not_crashing(garbage: str) -> None:
    with pytest.raises(InvalidTicket):
        TicketCodec(SECRET).decode(garbage)


def test_reordered_fields_are_rejected() -> None:
    codec = TicketCodec(SECRET)
    parts = make(codec, "alice", user_data="alice").split(".")
    parts[2], parts[8] = parts[8], parts[2]
    parts[3], parts[4] = parts[4], parts[3]
    with pytest.raises(InvalidTicket, match="bad signature"):
        codec.decode(".".join(parts))


def test_a_foreign_key_is_unknown_and_a_forged_key_id_fails_the_mac() -> None:
    codec = TicketCodec(SECRET)
    foreign = TicketCodec(OTHER_SECRET)
    with pytest.raises(InvalidTicket, match="unknown signing key"):
        codec.decode(make(foreign))
    forged = make(foreign).split(".")
    forged[1] = codec.signing_key_id
    with pytest.raises(InvalidTicket, match="bad signature"):
        codec.decode(".".join(forged))


def test_unknown_version_is_rejected() -> None:
    codec = TicketCodec(SECRET)
    with pytest.raises(InvalidTicket, match="version"):
        codec.decode("v2" + make(codec)[2:])


def test_oversized_input_is_rejected_before_parsing() -> None:
    codec = TicketCodec(SECRET)
    big = make(codec, "x" * 2000, user_data="y" * 2000)
    assert len(big) > MAX_TICKET_LENGTH
    with pytest.raises(InvalidTicket, match="too long"):
        codec.decode(big)


def test_key_ring_signs_with_the_first_key_and_verifies_with_all() -> None:
    old = TicketCodec(OTHER_SECRET)
    ring = TicketCodec([SECRET, OTHER_SECRET])
    assert ring.signing_key_id == TicketCodec(SECRET).signing_key_id
    assert ring.decode(make(old)).key_id == old.signing_key_id
    assert TicketCodec(SECRET).decode(make(ring)).user_id == "alice"


def test_key_ids_do_not_depend_on_ring_position() -> None:
    text = make(TicketCodec([OTHER_SECRET, SECRET]))
    assert TicketCodec([SECRET, OTHER_SECRET]).decode(text).user_id == "alice"


@pytest.mark.parametrize(
    ("secret", "error", "message"),
    [
        (b"short", ValueError, "at least 16 bytes"),
        ([], ValueError, "empty"),
        ([SECRET, SECRET], ValueError, "twice"),
        ("a string secret!!", TypeError, "must be bytes"),
        ([SECRET, "text"], TypeError, "must be bytes"),
    ],
)
def test_bad_secrets_are_refused(
    secret: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        TicketCodec(secret)  # type: ignore[arg-type]


def test_secrets_stay_out_of_repr() -> None:
    codec = TicketCodec([SECRET, OTHER_SECRET])
    assert "0123" not in repr(codec)
    assert codec.signing_key_id in repr(codec)


def test_expiry_boundary_is_exact() -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    text = make(codec)  # max_age 60 s
    clock.now += 59.999
    assert codec.decode(text).user_id == "alice"
    clock.now += 0.001
    with pytest.raises(InvalidTicket, match="expired"):
        codec.decode(text)


def test_future_issue_time_is_allowed_only_within_the_clock_skew() -> None:
    clock = Clock()
    issuer = TicketCodec(SECRET, clock=clock)
    verifier_clock = Clock(clock.now - 5.0)
    verifier = TicketCodec(SECRET, clock=verifier_clock, clock_skew=5.0)
    text = make(issuer)
    assert verifier.decode(text).user_id == "alice"
    verifier_clock.now -= 0.001
    with pytest.raises(InvalidTicket, match="future"):
        verifier.decode(text)


def test_negative_clock_skew_is_refused() -> None:
    with pytest.raises(ValueError, match="clock_skew"):
        TicketCodec(SECRET, clock_skew=-1)


def test_address_binding_is_checked_both_ways() -> None:
    codec = TicketCodec(SECRET)
    bound = make(codec, ip="192.0.2.1")
    assert codec.decode(bound, ip="192.0.2.1").ip == "192.0.2.1"
    with pytest.raises(InvalidTicket, match="address"):
        codec.decode(bound, ip="192.0.2.2")
    with pytest.raises(InvalidTicket, match="address"):
        codec.decode(bound)  # an unbinding policy refuses bound tickets
    with pytest.raises(InvalidTicket, match="address"):
        codec.decode(make(codec), ip="192.0.2.1")


def test_reissue_keeps_login_time_and_max_lifetime_caps_expiry() -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    first = codec.issue("alice", 60, max_lifetime=100)
    clock.now += 50
    second = codec.issue("alice", 60, login_ms=first.login_ms, max_lifetime=100)
    assert second.login_ms == first.login_ms
    assert second.issued_ms == first.issued_ms + 50_000
    assert second.expires_ms == first.login_ms + 100_000


def test_encode_refuses_a_key_not_in_the_ring() -> None:
    ticket = Ticket("alice", 2, 1, 1, key_id="nope")
    with pytest.raises(ValueError, match="no key"):
        TicketCodec(SECRET).encode(ticket)


def test_issue_refuses_a_non_str_user_id() -> None:
    with pytest.raises(TypeError, match="str"):
        TicketCodec(SECRET).issue(42, 60)  # type: ignore[arg-type]


def sign(body: str, secret: bytes = SECRET) -> str:
    """Sign arbitrary text as the codec would: what a holder of the key can do."""
    mac = hmac.digest(secret, body.encode("ascii"), "sha256")
    return body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@given(
    fields=st.lists(
        st.text(alphabet=sorted(COOKIE_SAFE - {"."}), max_size=12),
        min_size=7,
        max_size=7,
    )
)
def test_correctly_signed_garbage_is_rejected_not_crashing(fields: list[str]) -> None:
    codec = TicketCodec(SECRET)
    text = sign(".".join(["v1", codec.signing_key_id, *fields]))
    try:
        ticket = codec.decode(text)
    except InvalidTicket:
        return
    assert isinstance(ticket.user_id, str)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (["YQ", "-1", "0", "0", "", "", ""], "malformed time"),
        (["YQ", "1" * 16, "0", "0", "", "", ""], "malformed time"),
        (["YQ", "1e3", "0", "0", "", "", ""], "malformed time"),
        (["_w", "9" * 15, "0", "0", "", "", ""], "malformed ticket"),  # not UTF-8
        (["Y", "9" * 15, "0", "0", "", "", ""], "malformed ticket"),  # bad padding
    ],
)
def test_signed_but_malformed_fields_are_rejected(
    fields: list[str], reason: str
) -> None:
    codec = TicketCodec(SECRET)
    with pytest.raises(InvalidTicket, match=reason):
        codec.decode(sign(".".join(["v1", codec.signing_key_id, *fields])))


def test_upcoming_keys_verify_and_are_not_retiring() -> None:
    rolling_out = TicketCodec(SECRET, upcoming=[OTHER_SECRET])
    switched = TicketCodec([OTHER_SECRET, SECRET])
    new_ticket = switched.encode(switched.issue("alice", 60))
    assert rolling_out.decode(new_ticket).user_id == "alice"
    assert not rolling_out.is_retiring(switched.signing_key_id)
    assert switched.is_retiring(rolling_out.signing_key_id)
    assert not switched.is_retiring(switched.signing_key_id)
    with pytest.raises(ValueError, match="twice"):
        TicketCodec(SECRET, upcoming=[SECRET])
