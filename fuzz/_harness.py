"""What the fuzz harnesses share: a seeded corpus and a bounded run."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import atheris

__all__ = ["run"]


def run(test_one_input: Callable[[bytes], None], seeds: Iterable[bytes]) -> None:
    """Fuzz `test_one_input` for `--seconds` (default 30), starting from
    `seeds`; further arguments go to libFuzzer (`-runs=N`, a corpus dir...)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    args, libfuzzer_args = parser.parse_known_args()
    corpus = Path(tempfile.mkdtemp(prefix="aiohttp_guard-fuzz-"))
    for index, seed in enumerate(seeds):
        (corpus / f"seed-{index}").write_bytes(seed)
    atheris.Setup(
        [sys.argv[0], f"-max_total_time={args.seconds}", *libfuzzer_args, str(corpus)],
        test_one_input,
    )
    atheris.Fuzz()
