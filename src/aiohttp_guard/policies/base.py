"""The extension point for authentication policies, kept from aiohttp_auth."""

from __future__ import annotations

import abc
import time
from collections.abc import Hashable

from aiohttp import web

from ..identity import Identity

__all__ = ["AbstractAuthentication", "Identity"]


class AbstractAuthentication(abc.ABC):
    """Where a user's identity is kept between requests.

    Subclass it to keep identities somewhere of your own: implement `remember`,
    `forget` and `get`; override `process_response` to write what the request
    changed into the response (it runs on raised HTTP exceptions too),
    `identify` when you know more than the user id, `max_ticket_age` when
    your credentials expire, and `now_ms` when they are dated by a clock of
    your own.
    """

    @property
    def issues_credentials(self) -> bool:
        """Whether `remember` can log a user in through this policy: False
        for credentials someone else issues (an identity provider's
        tokens). A `PolicyChain` sends a login to a policy that can."""
        return True

    @property
    def max_ticket_age(self) -> float | None:
        """The longest, in seconds, that a credential issued now can stay
        valid; None when unknown (the default). Revocations are kept that
        long, and for good when it is None."""
        return None

    @property
    def max_session_ticket_age(self) -> float | None:
        """The longest, in seconds, that a credential carrying a login
        session id (see `session_kind`) can stay valid; by default
        `max_ticket_age`. Ended sessions are kept that long."""
        return self.max_ticket_age

    def now_ms(self, request: web.Request) -> int:
        """Now, by the clock that dated the identity of `request` (its
        `login_ms`), in milliseconds since the epoch: the system clock by
        default. `Authenticated(fresh_within=...)` measures a login's age
        with it."""
        return int(time.time() * 1000)

    def session_kind(self, request: web.Request) -> str | None:
        """What a login through `remember` on `request` is called in a
        user's list of sessions ("cookie", "session", "bearer"), when the
        credentials this policy issues carry the login session's id (read
        from `RequestState.starting_session` by `remember`); None (the
        default) when they do not: the service then starts no session, and
        the user's logins through this policy show as their earlier logins."""
        return None

    def credential_ids(self) -> frozenset[Hashable]:
        """What makes a credential valid for this policy: the ids of the keys
        that verify it. Two services whose policies share one accept each
        other's tickets, so they must share revocations too. By default the
        policy object itself: a policy of your own accepts only its own."""
        return frozenset((self,))

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

    def forbidden_challenge(self, request: web.Request) -> str | None:
        """The `WWW-Authenticate` value sent with a guard's 403 (RFC 6750's
        `insufficient_scope` for an access token), if the policy has one."""
        return None
