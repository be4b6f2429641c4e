"""The type errors the docs promise are the ones mypy reports.

The docs show mistakes and mypy's answer in `text` blocks: a snippet, then
`error: ...`. Each snippet is appended to the page's Python examples and
checked with `mypy --strict`; every documented message must come out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "docs/howto/typed-permissions.md", ROOT / "README.md"]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def documented_errors(text: str) -> list[tuple[str, str]]:
    """(snippet, expected message) pairs from the page's `text` blocks."""
    pairs: list[tuple[str, str]] = []
    for block in re.findall(r"```text\n(.*?)```", text, flags=re.DOTALL):
        for chunk in block.strip().split("\n\n"):
            lines = chunk.splitlines()
            code = [line for line in lines if not line.startswith("error: ")]
            (error,) = [line for line in lines if line.startswith("error: ")]
            pairs.append(("\n".join(code), error.removeprefix("error: ")))
    return pairs


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_documented_type_errors(page: Path, tmp_path: Path) -> None:
    text = page.read_text()
    pairs = documented_errors(text)
    assert pairs, f"{page.name} documents no type errors"
    blocks = python_blocks(text)
    # The README's permissions example defines what its errors refer to.
    base = next(b for b in blocks if "ACL[Perm]" in b)
    source = base + "\nfrom aiohttp_guard import Authenticated, Requires\n"
    for index, (snippet, _) in enumerate(pairs):
        source += f"\n\ndef case_{index}() -> None:\n" + "\n".join(
            "    " + line for line in snippet.splitlines()
        )
    path = tmp_path / "documented.py"
    path.write_text(source)
    stdout, _, _ = api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file",
            str(ROOT / "mypy.ini"),
            str(path),
        ]
    )
    for snippet, message in pairs:
        head = message.split("...")[0].rstrip(" ,;")
        assert head in stdout, f"{snippet!r}: mypy did not say {head!r}\n{stdout}"
        code = re.search(r"\[[a-z-]+\]$", message)
        assert code is not None
        assert code.group(0) in stdout
