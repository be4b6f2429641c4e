"""The soak script, briefly: it runs, and every answer is the right one (a
check of statuses, never of speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_soak_smoke() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.soak",
            "--seconds",
            "2",
            "--concurrency",
            "8",
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
