"""The ticket codec: round trips, tampering, keys, time and addresses."""

from __future__ import annotations

import base64
import hmac
import string
import struct
from typing import Literal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard import InvalidTicket, Ticket, TicketCodec
from aiohttp_guard._ticket_v2 import pack_v2, unpack_v2
from aiohttp_guard._ticket_v2 import v2_text as join_v2
from aiohttp_guard.tickets import MAX_TICKET_LENGTH

from .conftest import OTHER_SECRET, SECRET, Clock

COOKIE_SAFE = set(string.ascii_letters + string.digits + "-_~.")
texts = st.text()  # any str, lone surrogates included
#: Both formats a codec writes: every property of tickets holds for both.
versions = pytest.mark.parametrize("version", [1, 2])


def make(codec: TicketCodec, user_id: str = "alice", **kwargs: object) -> str:
    return codec.encode(codec.issue(user_id, 60, **kwargs))  # type: ignore[arg-type]


@versions
@given(
    user_id=texts,
    tokens=st.lists(texts, max_size=4),
    user_data=texts,
    ip=st.none() | st.ip_addresses().map(str),
    session_id=st.none() | texts,
)
def test_every_ticket_round_trips_in_cookie_safe_text(
    version: Literal[1, 2],
    *,
    user_id: str,
    tokens: list[str],
    user_data: str,
    ip: str | None,
    session_id: str | None,
) -> None:
    codec = TicketCodec(SECRET, write_version=version)
    if version == 1:
        session_id = None  # format v1 has no room for one (tested below)
    ticket = codec.issue(
        user_id, 60, ip=ip, tokens=tokens, user_data=user_data, session_id=session_id
    )
    text = codec.encode(ticket)
    assert set(text) <= COOKIE_SAFE
    assert text.startswith(f"v{version}.")
    assert codec.decode(text, ip=ip) == ticket
    # Whichever format a codec writes, it reads both.
    assert (
        TicketCodec(SECRET, write_version=2 if version == 1 else 1).decode(text, ip=ip)
        == ticket
    )


@pytest.mark.parametrize(
    "user_id", ["", "a b", 'q"uote', "back\\slash", "!,;=", "ünï©ødé"]
)
def test_awkward_user_ids_round_trip(user_id: str) -> None:
    codec = TicketCodec(SECRET)
    assert codec.decode(make(codec, user_id)).user_id == user_id


@versions
@given(data=st.data())
def test_any_single_character_change_is_rejected(
    version: Literal[1, 2], data: st.DataObject
) -> None:
    codec = TicketCodec(SECRET, write_version=version)
    session = None if version == 1 else "a-session-id"
    text = make(codec, "alice", tokens=["t"], user_data="d", session_id=session)
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != text[index]))
    with pytest.raises(InvalidTicket):
        codec.decode(text[:index] + replacement + text[index + 1 :])


@versions
@given(data=st.data())
def test_truncation_and_extension_are_rejected(
    version: Literal[1, 2], data: st.DataObject
) -> None:
    codec = TicketCodec(SECRET, write_version=version)
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
    codec = TicketCodec(SECRET, write_version=1)
    parts = make(codec, "alice", user_data="alice").split(".")
    parts[2], parts[8] = parts[8], parts[2]
    parts[3], parts[4] = parts[4], parts[3]
    with pytest.raises(InvalidTicket, match="bad signature"):
        codec.decode(".".join(parts))


def test_a_foreign_key_is_unknown_and_a_forged_key_id_fails_the_mac() -> None:
    codec = TicketCodec(SECRET, write_version=1)
    foreign = TicketCodec(OTHER_SECRET, write_version=1)
    with pytest.raises(InvalidTicket, match="unknown signing key"):
        codec.decode(make(foreign))
    forged = make(foreign).split(".")
    forged[1] = codec.signing_key_id
    with pytest.raises(InvalidTicket, match="bad signature"):
        codec.decode(".".join(forged))


@versions
def test_unknown_version_is_rejected(version: Literal[1, 2]) -> None:
    codec = TicketCodec(SECRET, write_version=version)
    with pytest.raises(InvalidTicket, match="version"):
        codec.decode("v3" + make(codec)[2:])


@versions
def test_oversized_input_is_rejected_before_parsing(version: Literal[1, 2]) -> None:
    codec = TicketCodec(SECRET, write_version=version)
    text = make(codec)
    big = text + "A" * (MAX_TICKET_LENGTH + 1 - len(text))
    with pytest.raises(InvalidTicket, match="too long"):
        codec.decode(big)


@versions
def test_a_ticket_too_long_to_verify_is_never_written(version: Literal[1, 2]) -> None:
    codec = TicketCodec(SECRET, write_version=version)
    assert len(make(codec, "x" * 1000, user_data="y" * 1000)) <= MAX_TICKET_LENGTH
    with pytest.raises(ValueError, match="4096"):
        make(codec, "x" * 2000, user_data="y" * 2000)
    with pytest.raises(ValueError, match=r"65,535|4096"):
        make(codec, "x" * 70_000)


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


# -- format v2: binary fields in one blob -----------------------------------


def blob_of(text: str) -> bytes:
    """The payload and MAC of a v2 ticket text."""
    assert text.startswith("v2.")
    return base64.urlsafe_b64decode(text[3:])


def v2_text(blob: bytes) -> str:
    return "v2." + base64.urlsafe_b64encode(blob).decode()


def sign_v2(
    payload: bytes, secret: bytes = SECRET, signed_prefix: bytes = b"v2."
) -> str:
    """Sign any payload as the codec would: what a holder of the key can do.
    The payload is padded to whole base64 groups, as the format needs."""
    payload += bytes(-(len(payload) + 32) % 3)
    return v2_text(payload + hmac.digest(secret, signed_prefix + payload, "sha256"))


def header(
    codec: TicketCodec,
    *,
    expires: int = 2**50,
    issued: int = 0,
    login: int = 0,
    flags: int = 0,
    user: bytes = b"alice",
    user_size: int | None = None,
) -> bytes:
    size = len(user) if user_size is None else user_size
    return (
        base64.urlsafe_b64decode(codec.signing_key_id + "==")
        + struct.pack(">QQQBH", expires, issued, login, flags, size)
        + user
    )


def retarget(text: str, user_id: str) -> str:
    """A v2 ticket naming `user_id` instead, every other field as it was,
    under its own MAC: well formed, but signed for someone else."""
    blob = blob_of(text)
    ticket = unpack_v2(blob[:-32], "any")
    payload = pack_v2(attrs.evolve(ticket, user_id=user_id), blob[:6])
    return join_v2(payload, blob[-32:])


def test_v2_refuses_a_user_id_swapped_under_the_same_mac() -> None:
    codec = TicketCodec(SECRET)
    text = make(codec, "alice")
    assert retarget(text, "alice") == text
    for user in ("mallo", "bob", "alice2"):
        with pytest.raises(InvalidTicket, match="bad signature"):
            codec.decode(retarget(text, user))
    blob = blob_of(text)
    # Times moved between fields under the same MAC are refused as well.
    expires, issued = blob[6:14], blob[14:22]
    swapped = blob[:6] + issued + expires + blob[22:]
    with pytest.raises(InvalidTicket, match="bad signature"):
        codec.decode(v2_text(swapped))


def test_v2_names_its_key_and_a_forged_key_id_fails_the_mac() -> None:
    codec = TicketCodec(SECRET)
    foreign = make(TicketCodec(OTHER_SECRET))
    with pytest.raises(InvalidTicket, match="unknown signing key"):
        codec.decode(foreign)
    ours = blob_of(make(codec))[:6]
    with pytest.raises(InvalidTicket, match="bad signature"):
        codec.decode(v2_text(ours + blob_of(foreign)[6:]))


def test_v2_mac_covers_the_format_name() -> None:
    """A MAC of the payload alone, or under another format's name, is not a
    v2 MAC: one format's signature never verifies as the other's."""
    codec = TicketCodec(SECRET)
    payload = header(codec)
    assert codec.decode(sign_v2(payload)).user_id == "alice"
    for prefix in (b"", b"v1.", b"v3."):
        with pytest.raises(InvalidTicket, match="bad signature"):
            codec.decode(sign_v2(payload, signed_prefix=prefix))


def test_v2_has_one_text_per_ticket() -> None:
    """The blob is whole base64 groups: no padding, no spare bits, and no
    characters of the other base64 alphabet."""
    codec = TicketCodec(SECRET)
    text = make(codec)
    assert len(text[3:]) % 4 == 0
    assert "=" not in text
    standard = "v2." + base64.b64encode(blob_of(text)).decode()
    for other in (standard, text + "=", text[:-1] + "=", text + "AAAA"):
        if other == text:
            continue
        with pytest.raises(InvalidTicket):
            codec.decode(other)


SIGNER = TicketCodec(SECRET)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (header(SIGNER)[:20], "malformed ticket"),  # cut inside the header
        (header(SIGNER, user=b"\xff"), "malformed ticket"),  # not UTF-8
        (header(SIGNER, user_size=40), "malformed ticket"),  # past the end
        (header(SIGNER, flags=16), "malformed ticket"),  # an unknown field
        (header(SIGNER, flags=1) + b"\x00\x09ab", "malformed ticket"),
        (header(SIGNER, flags=2) + b"\x00\x02\x00\x01a", "malformed ticket"),
        (header(SIGNER) + b"\x01\x02\x03", "malformed ticket"),  # trailing
        (header(SIGNER, user=b"alice" + bytes(3)), None),  # NULs: a user id
    ],
)
def test_signed_but_malformed_v2_payloads_are_rejected(
    payload: bytes, reason: str | None
) -> None:
    text = sign_v2(payload)
    if reason is None:
        assert SIGNER.decode(text).user_id == "alice\0\0\0"
        return
    with pytest.raises(InvalidTicket, match=reason):
        SIGNER.decode(text)


@given(payload=st.binary(max_size=120), key_id=st.booleans())
def test_correctly_signed_v2_garbage_is_rejected_not_crashing(
    payload: bytes, key_id: bool
) -> None:
    codec = TicketCodec(SECRET)
    if key_id:  # past the key look-up, into the parser
        payload = header(codec)[:6] + payload
    try:
        ticket = codec.decode(sign_v2(payload))
    except InvalidTicket:
        return
    assert isinstance(ticket.user_id, str)
    assert codec.decode(codec.encode(ticket)) == ticket


def test_session_ids_travel_in_v2_and_v1_refuses_them() -> None:
    codec = TicketCodec(SECRET)
    ticket = codec.issue("alice", 60, session_id="s-1")
    assert codec.decode(codec.encode(ticket)).session_id == "s-1"
    assert codec.decode(make(codec)).session_id is None
    with pytest.raises(ValueError, match="session id"):
        TicketCodec(SECRET, write_version=1).encode(ticket)
    with pytest.raises(ValueError, match="write_version"):
        TicketCodec(SECRET, write_version=3)  # type: ignore[arg-type]


@versions
def test_times_before_the_epoch_are_refused_when_writing(
    version: Literal[1, 2],
) -> None:
    codec = TicketCodec(SECRET, write_version=version)
    ticket = Ticket("alice", 60_000, -1, -1, codec.signing_key_id)
    with pytest.raises(ValueError, match="range"):
        codec.encode(ticket)


def _decoded(codec: TicketCodec, text: str, ip: str | None) -> Ticket | str:
    """What `decode` says of `text`: its ticket, or the reason it raised."""
    try:
        return codec.decode(text, ip=ip)
    except InvalidTicket as exc:
        return exc.reason


@versions
@given(data=st.data())
def test_decode_or_reason_says_what_decode_says(
    version: Literal[1, 2], data: st.DataObject
) -> None:
    """The non-raising form answers every text as `decode` does, the first
    time and again (from what the codec remembers): the ticket, or the
    reason `decode` raises with. A policy must never accept a text `decode`
    refuses."""
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock, write_version=version)
    genuine = make(codec, ip=data.draw(st.none() | st.just("192.0.2.1")))
    index = data.draw(st.integers(0, len(genuine) - 1))
    text = data.draw(
        st.sampled_from(
            [
                genuine,
                genuine[:index],
                genuine[:index] + "x" + genuine[index + 1 :],
                make(TicketCodec(OTHER_SECRET)),
            ]
        )
        | st.text(max_size=200)
    )
    ip = data.draw(st.none() | st.sampled_from(["192.0.2.1", "192.0.2.2"]))
    clock.now += data.draw(st.sampled_from([0.0, -10.0, 59.0, 61.0]))
    fresh = TicketCodec(SECRET, clock=clock)
    for _ in range(2):
        said = codec.decode_or_reason(text, ip=ip)
        assert said == _decoded(fresh, text, ip)
        assert said == _decoded(codec, text, ip)
        if isinstance(said, str):
            assert said  # a reason, never an empty string


def test_decode_or_reason_names_each_refusal() -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    text = make(codec, ip="192.0.2.1")
    assert codec.decode_or_reason(text, ip="192.0.2.2") == (
        "ticket bound to another client address"
    )
    assert codec.decode_or_reason(text[:-4] + "AAAA") == "bad signature"
    assert codec.decode_or_reason("v9.x") == "unknown ticket version"
    clock.now += 60
    assert codec.decode_or_reason(text, ip="192.0.2.1") == "ticket expired"
