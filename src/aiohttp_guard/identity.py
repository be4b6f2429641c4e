"""`Identity`: who a request comes from, as a policy established it."""

from __future__ import annotations

import attrs

__all__ = ["Identity"]


@attrs.frozen
class Identity:
    """Who a request comes from, as a policy established it.

    Args:
        user_id: The user's id.
        login_ms: When the user last proved who they are, in milliseconds
            since the epoch. None when the policy cannot tell, which guards
            asking for a fresh login treat as stale.
        issued_ms: When the credential was issued, in milliseconds since the
            epoch. None when the policy cannot tell, which any revocation of
            the user refuses.
        session_id: The login session the credential belongs to (see
            `login_sessions`), or None for a credential made without one.
    """

    user_id: str
    login_ms: int | None = None
    issued_ms: int | None = None
    session_id: str | None = None
