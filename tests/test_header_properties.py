"""Properties of the cookie and header path: whatever a client sends, a policy
answers with an identity only for a genuine ticket, and never raises."""

from __future__ import annotations

import string

from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard import (
    BearerTicketPolicy,
    CookieTicketPolicy,
    PolicyChain,
    TicketCodec,
)

from .conftest import SECRET

CODEC = TicketCodec(SECRET)
CHAIN = PolicyChain([CookieTicketPolicy(CODEC, 600), BearerTicketPolicy(CODEC, 600)])
GENUINE = CODEC.encode(CODEC.issue("alice", 600))
# What may stand in a header value: visible ASCII, spaces and Latin-1 bytes.
header_text = st.text(
    alphabet=st.sampled_from(string.printable.strip("\r\n\x0b\x0c") + "éÿ\t"),
    max_size=200,
)


@given(cookie=header_text, authorization=header_text)
async def test_anything_sent_is_no_identity(cookie: str, authorization: str) -> None:
    request = make_mocked_request(
        "GET", "/", headers={"Cookie": cookie, "Authorization": authorization}
    )
    identity = await CHAIN.identify(request)
    assert identity is None or GENUINE in cookie + authorization


@given(prefix=header_text, suffix=header_text)
async def test_a_genuine_ticket_is_found_only_whole(prefix: str, suffix: str) -> None:
    sent = prefix + GENUINE + suffix
    request = make_mocked_request(
        "GET", "/", headers={"Authorization": f"Bearer {sent}"}
    )
    identity = await CHAIN.identify(request)
    if identity is not None:
        assert identity.user_id == "alice"
        assert sent.strip() == GENUINE
