"""Shared test material: secrets and small app builders over real servers."""

from __future__ import annotations

SECRET = b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210fedcba9876543210"


class Clock:
    """A settable clock for the codec, so expiry boundaries are exact."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
