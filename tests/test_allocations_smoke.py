"""The allocations benchmark in smoke mode: it runs, and every case answers
with its status (a check of statuses, never of counts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_allocations_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.allocations", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for row in (
        "| bare aiohttp | 200 |",
        "| aiohttp + an empty middleware | 200 |",
        "| aiohttp_guard cookie, valid | 200 |",
        "| aiohttp_guard cookie, no credential | 401 |",
        "| aiohttp_guard cookie, tampered | 401 |",
        "| aiohttp_guard cookie, forbidden | 403 |",
    ):
        assert row in result.stdout, result.stdout
    assert "statuses as expected" in result.stdout
