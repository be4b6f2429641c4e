"""Helpers for your own tests: a logged-in test client in one line.

from aiohttp_guard.testing import log_in

async def test_profile(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app())
    log_in(client, "alice")
    assert (await client.get("/profile")).status == 200
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from yarl import URL

from .policies.base import AbstractAuthentication
from .policies.bearer import BearerTicketPolicy
from .policies.chain import PolicyChain
from .policies.cookie import CookieTicketPolicy
from .service import AuthService

__all__ = ["bearer_header", "log_in", "log_out", "ticket_cookie"]


def ticket_cookie(
    policy: CookieTicketPolicy, user_id: str, *, ip: str = "127.0.0.1"
) -> dict[str, str]:
    """A cookie (name to value) that `policy` accepts as `user_id`'s login.
    `ip` is the client address, used when the policy binds tickets to it."""
    return {policy.cookie_name: _ticket_for(policy, user_id, ip)}


def bearer_header(
    policy: BearerTicketPolicy, user_id: str, *, ip: str = "127.0.0.1"
) -> dict[str, str]:
    """An `Authorization` header that `policy` accepts as `user_id`'s token."""
    return {"Authorization": f"Bearer {_ticket_for(policy, user_id, ip)}"}


def _ticket_for(
    policy: CookieTicketPolicy | BearerTicketPolicy, user_id: str, ip: str
) -> str:
    return policy.codec.encode(policy.ticket_for(user_id, ip))


def _cookie_policy(
    client: TestClient[Any, Any], policy: CookieTicketPolicy | None
) -> CookieTicketPolicy:
    found: AbstractAuthentication | None
    if policy is None and client.app is not None:
        found = AuthService.of(client.app).policy
    else:
        found = policy
    if isinstance(found, PolicyChain):
        cookies = [p for p in found.policies if isinstance(p, CookieTicketPolicy)]
        found = cookies[0] if cookies else found
    if not isinstance(found, CookieTicketPolicy):
        raise TypeError(
            "log_in sets a CookieTicketPolicy cookie; with another policy, log in "
            f"through your app's login route (the app's policy is {found!r})"
        )
    return found


def log_in(
    client: TestClient[Any, Any],
    user_id: str,
    *,
    policy: CookieTicketPolicy | None = None,
) -> None:
    """Make `client`'s later requests arrive logged in as `user_id`.

    The cookie is made for the `CookieTicketPolicy` of the app's `AuthService`
    (the first one of a policy chain), or for `policy` (apps built with
    `auth.auth_middleware(policy)`); it is scoped to the test server's host.
    """
    policy = _cookie_policy(client, policy)
    client.session.cookie_jar.update_cookies(
        ticket_cookie(policy, user_id), response_url=URL(str(client.make_url("/")))
    )


def log_out(
    client: TestClient[Any, Any], *, policy: CookieTicketPolicy | None = None
) -> None:
    """Drop `client`'s login cookie."""
    policy = _cookie_policy(client, policy)
    client.session.cookie_jar.clear(lambda cookie: cookie.key == policy.cookie_name)
