"""The extension point for authentication policies, kept from aiohttp_auth."""

from __future__ import annotations

import abc

import attrs
from aiohttp import web

__all__ = ["AbstractAuthentication", "Identity"]


@attrs.frozen
class Identity:
    """Who a request comes from, as a policy established it.

    `login_ms` is when the user last proved who they are (milliseconds since
    the epoch); None when the policy cannot tell, which guards asking for a
    fresh login treat as stale.
    """

    user_id: str
    login_ms: int | None = None
    issued_ms: int | None = None


class AbstractAuthentication(abc.ABC):
    """Where a user's identity is kept between requests.

    Subclass it to keep identities somewhere of your own: implement `remember`,
    `forget` and `get`; override `process_response` to write what the request
    changed into the response (it runs on raised HTTP exceptions too), and
    `identify` when you know more than the user id.
    """

    @abc.abstractmethod
    async def remember(self, request: web.Request, user_id: str) -> str | None:
        """Record that this request's client is now `user_id` (a login).

        Returns a token for the handler to hand out when the policy keeps
        nothing on the client itself (bearer tokens), else None.
        """

    @abc.abstractmethod
    async def forget(self, request: web.Request) -> None:
        """Forget the client's identity (a logout)."""

    @abc.abstractmethod
    async def get(self, request: web.Request) -> str | None:
        """The user id this request carries, or None when there is none."""

    async def identify(self, request: web.Request) -> Identity | None:
        """The request's `Identity`; by default built from `get`."""
        user_id = await self.get(request)
        return None if user_id is None else Identity(user_id)

    async def process_response(  # noqa: B027 - optional hook, no-op by default
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        """Write pending changes (cookies, reissued tickets) into `response`."""

    def challenge(self, request: web.Request) -> str | None:
        """The `WWW-Authenticate` value sent with a 401, if the policy has one."""
        return None
