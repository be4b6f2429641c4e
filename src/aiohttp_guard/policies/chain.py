"""Several policies behind one service: cookies for browsers, bearer tokens for
API clients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aiohttp import web

from .._compat import request_get, request_key
from .base import AbstractAuthentication, Identity

__all__ = ["PolicyChain"]

_USED: Final = request_key("chain.used", object)


class PolicyChain(AbstractAuthentication):
    """Identifies a request with the first policy that recognises it;
    `remember` and `forget` go to that policy, or to the first one when none
    did. `AuthService([cookie, bearer])` builds one."""

    def __init__(self, policies: Sequence[AbstractAuthentication]) -> None:
        if not policies:
            raise ValueError("a policy chain needs at least one policy")
        for policy in policies:
            if not isinstance(policy, AbstractAuthentication):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(
                    "every policy of a chain must be an AbstractAuthentication, "
                    f"not {type(policy).__name__}"
                )
        self.policies = tuple(policies)

    def __repr__(self) -> str:
        return f"PolicyChain({list(self.policies)!r})"

    def _in_charge(self, request: web.Request) -> AbstractAuthentication:
        used = request_get(request, _USED)
        return used if isinstance(used, AbstractAuthentication) else self.policies[0]

    async def identify(self, request: web.Request) -> Identity | None:
        for policy in self.policies:
            identity = await policy.identify(request)
            if identity is not None:
                request[_USED] = policy
                return identity
        return None

    async def get(self, request: web.Request) -> str | None:
        identity = await self.identify(request)
        return None if identity is None else identity.user_id

    async def remember(self, request: web.Request, user_id: str) -> str | None:
        return await self._in_charge(request).remember(request, user_id)

    async def forget(self, request: web.Request) -> None:
        await self._in_charge(request).forget(request)

    async def process_response(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        for policy in self.policies:
            await policy.process_response(request, response)

    def challenge(self, request: web.Request) -> str | None:
        challenges = [c for p in self.policies if (c := p.challenge(request))]
        return ", ".join(challenges) or None
