"""Loopback ports for the benchmark servers."""

from __future__ import annotations

import asyncio
import socket

__all__ = ["free_port", "wait_for_port"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_for_port(port: int, *, seconds: float = 10) -> bool:
    """Whether something listens on `port` within `seconds`."""
    for _ in range(round(seconds / 0.05)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        await asyncio.sleep(0.05)
    return False
