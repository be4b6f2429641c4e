"""Reading what a real response said in its Set-Cookie headers."""

from __future__ import annotations

from http.cookies import Morsel, SimpleCookie

from aiohttp import ClientResponse


def set_cookies(response: ClientResponse) -> dict[str, Morsel[str]]:
    """Every cookie the response sets, by name, with its attributes."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return dict(jar)


def raw_set_cookie(response: ClientResponse, name: str) -> str:
    """The Set-Cookie header for `name`, verbatim (flag spelling matters)."""
    for header in response.headers.getall("Set-Cookie", []):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}")
