"""`Identity`: who a request comes from, as a policy established it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, TypeAlias

import attrs

__all__ = ["NO_CLAIMS", "ClaimValue", "Identity"]

#: A claim's value as a token carries it, read-only: JSON's scalars, arrays
#: as tuples and objects as read-only mappings.
_Scalar: TypeAlias = str | int | float | bool | None
ClaimValue: TypeAlias = "_Scalar | tuple[ClaimValue, ...] | Mapping[str, ClaimValue]"

#: The claims of an identity whose credential carries none.
NO_CLAIMS: Final[Mapping[str, ClaimValue]] = MappingProxyType({})


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
        scopes: What the credential itself allows (an access token's
            scopes); each becomes a `Scope` principal of the request.
        claims: What else the credential says (an access token's claims),
            read-only.
        sessionless: The credential belongs to no login session of this
            library (a token an identity provider issued): it is neither
            listed among the user's sessions nor ended with them.
            `logout_everywhere` still refuses it.
    """

    user_id: str
    login_ms: int | None = None
    issued_ms: int | None = None
    session_id: str | None = None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, ClaimValue] = NO_CLAIMS
    sessionless: bool = False
