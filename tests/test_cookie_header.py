"""The policies' Cookie header scan agrees with aiohttp's full parser."""

from __future__ import annotations

import string

from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard.policies._cookie_header import cookie_value

names = st.sampled_from(["AUTH_TKT", "sid", "other", "AUTH"])
values = st.text(alphabet=string.ascii_letters + string.digits + "-_.~!%", max_size=40)
pairs = st.lists(st.tuples(names, values), max_size=6)


@given(pairs=pairs, separator=st.sampled_from(["; ", ";", ";  "]))
def test_scan_agrees_with_aiohttp(pairs: list[tuple[str, str]], separator: str) -> None:
    header = separator.join(f"{name}={value}" for name, value in pairs)
    request = make_mocked_request("GET", "/", headers={"Cookie": header})
    for name in ("AUTH_TKT", "sid"):
        assert cookie_value(header, name) == request.cookies.get(name)


def test_quoted_values_and_prefixes() -> None:
    assert cookie_value('AUTH_TKT="v1.a.b"', "AUTH_TKT") == "v1.a.b"
    assert cookie_value("XAUTH_TKT=1; AUTH_TKT=2", "AUTH_TKT") == "2"
    assert cookie_value("AUTH_TKT_OLD=1", "AUTH_TKT") is None
    assert cookie_value("AUTH_TKT=", "AUTH_TKT") == ""
    assert cookie_value("", "AUTH_TKT") is None
