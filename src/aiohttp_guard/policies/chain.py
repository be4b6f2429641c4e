"""Several policies behind one service: cookies for browsers, bearer tokens for
API clients."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import attrs
from aiohttp import web

from ..identity import Identity
from ..request_state import RequestState
from .base import AbstractAuthentication

__all__ = ["PolicyChain"]


@attrs.frozen
class _Identified:
    """The note of a chain that identified a request: which policy did."""

    policy: AbstractAuthentication


class PolicyChain(AbstractAuthentication):
    """Identifies a request with the first policy that recognises it;
    `remember` goes to that policy, or to the first one that issues
    credentials when none did or the one that did cannot (an identity
    provider's tokens), and `forget` to every policy, so that a logout
    clears whatever credential the client holds. `AuthService([cookie,
    bearer])` builds one.

    Args:
        policies: The policies, in the order they are tried; at least one.
    """

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

    @property
    def max_ticket_age(self) -> float | None:
        """The longest of the policies' (None when one of them cannot tell)."""
        return _longest([policy.max_ticket_age for policy in self.policies])

    @property
    def max_session_ticket_age(self) -> float | None:
        """The longest of the policies' (None when one of them cannot tell)."""
        return _longest([policy.max_session_ticket_age for policy in self.policies])

    def credential_ids(self) -> frozenset[Hashable]:
        return frozenset(key for p in self.policies for key in p.credential_ids())

    def _in_charge(self, request: web.Request) -> AbstractAuthentication:
        # Noted per chain: another service's chain on the same request (a
        # sub-application's) has its own policies and secrets.
        used = RequestState.note_of(request, self, _Identified)
        return self.policies[0] if used is None else used.policy

    def _remembering(self, request: web.Request) -> AbstractAuthentication:
        """The policy a login on `request` goes to."""
        policy = self._in_charge(request)
        if policy.issues_credentials:
            return policy
        return next((p for p in self.policies if p.issues_credentials), policy)

    @property
    def issues_credentials(self) -> bool:
        """Whether any of the policies does."""
        return any(policy.issues_credentials for policy in self.policies)

    def now_ms(self, request: web.Request) -> int:
        """The clock of the policy that identified `request` (of the first
        policy when none did)."""
        return self._in_charge(request).now_ms(request)

    async def identify(self, request: web.Request) -> Identity | None:
        for policy in self.policies:
            identity = await policy.identify(request)
            if identity is not None:
                RequestState.current(request).set_note(self, _Identified(policy))
                return identity
        return None

    async def get(self, request: web.Request) -> str | None:
        identity = await self.identify(request)
        return None if identity is None else identity.user_id

    def session_kind(self, request: web.Request) -> str | None:
        """That of the policy `remember` goes to."""
        return self._remembering(request).session_kind(request)

    async def remember(self, request: web.Request, user_id: str) -> str | None:
        return await self._remembering(request).remember(request, user_id)

    async def forget(self, request: web.Request) -> None:
        for policy in self.policies:
            await policy.forget(request)

    async def process_response(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        for policy in self.policies:
            await policy.process_response(request, response)

    def challenge(self, request: web.Request) -> str | None:
        challenges = [c for p in self.policies if (c := p.challenge(request))]
        return ", ".join(challenges) or None

    def forbidden_challenge(self, request: web.Request) -> str | None:
        """That of the policy that identified the request."""
        return self._in_charge(request).forbidden_challenge(request)


def _longest(ages: list[float | None]) -> float | None:
    """The longest of `ages`; None (unknown) when any of them is."""
    known = [age for age in ages if age is not None]
    return max(known) if len(known) == len(ages) else None
