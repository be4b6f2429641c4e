"""Coverage-guided fuzzing of ticket parsing: any text is a ticket or an
`InvalidTicket`, never another exception.

    python -m fuzz.fuzz_tickets --seconds 600
"""

from __future__ import annotations

import time

import atheris

with atheris.instrument_imports():
    from aiohttp_guard.tickets import InvalidTicket, TicketCodec

from ticket_auth import TicketFactory

from ._harness import run

SECRET = b"fuzzing secret, sixteen bytes+"
CODEC = TicketCodec([SECRET, b"an older key for the fuzzer"])
#: Writes the earlier format, which the codec reads until its tickets expire.
V1 = TicketCodec(SECRET, write_version=1)


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    bind = provider.ConsumeBool()
    text = provider.ConsumeUnicode(provider.remaining_bytes())
    ip = "192.0.2.1" if bind else None
    for legacy in (False, True):
        try:
            if legacy:
                ticket = CODEC.decode_legacy(text, ip=ip, max_age=3600)
            else:
                ticket = CODEC.decode(text, ip=ip)
        except InvalidTicket:
            continue
        if not isinstance(ticket.user_id, str):  # pyright: ignore[reportUnnecessaryIsInstance] - checked at run time
            raise AssertionError(f"a ticket without a str user id: {ticket!r}")


def seeds() -> list[bytes]:
    ticket = CODEC.issue(
        "alice", 600, ip="192.0.2.1", tokens=["a", "b"], user_data="x", session_id="s"
    )
    plain = CODEC.issue("alice", 600)
    legacy = TicketFactory(SECRET).new("alice", valid_until=time.time() + 600)
    texts = [CODEC.encode(ticket), CODEC.encode(plain), V1.encode(plain), legacy]
    return [b"\x00" + text.encode() for text in texts]


if __name__ == "__main__":
    run(test_one_input, seeds())
