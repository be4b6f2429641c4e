"""`Ticket`, what a verified ticket says, and `InvalidTicket`, why one was
refused: the values the codec and the aiohttp_auth reader both produce."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

__all__ = ["MAX_TICKET_LENGTH", "InvalidTicket", "Ticket"]

#: Longer input is rejected before any parsing, so hostile headers cost nothing.
MAX_TICKET_LENGTH: Final = 4096


class InvalidTicket(ValueError):  # noqa: N818 - reads as a verdict, like KeyError
    """A ticket failed verification; `reason` says why, for logs and tests."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _as_tokens(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Ticket:
    """What a verified ticket says. Times are integer milliseconds since the epoch.

    `login_ms` is when the user last proved who they are; reissuing a ticket
    keeps it, so it can bound a session's total lifetime and tell a fresh login
    from a long-lived one. `session_id` names the login session the ticket
    belongs to, kept by renewals; None for tickets made without one.
    """

    user_id: str
    expires_ms: int
    issued_ms: int
    login_ms: int
    key_id: str
    ip: str | None = None
    tokens: tuple[str, ...] = attrs.field(default=(), converter=_as_tokens)
    user_data: str = ""
    session_id: str | None = None
