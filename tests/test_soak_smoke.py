"""The soak script, briefly: it runs, and every answer is the right one (a
check of statuses, never of speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("sessions", ["0", "200"])
def test_soak_smoke(sessions: str) -> None:
    result = subprocess.run(  # noqa: S603 - the project's own script
        [
            sys.executable,
            "-m",
            "benchmarks.soak",
            "--seconds",
            "2",
            "--concurrency",
            "8",
            "--sessions",
            sessions,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| wrong decisions | 0 |" in result.stdout
    assert "| 5xx answers | 0 |" in result.stdout
