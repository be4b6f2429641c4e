"""The type errors the docs promise are the ones mypy reports, and pyright
finds them too.

The docs show mistakes and mypy's answer in `text` blocks: a snippet, then
`error: ...`. Each snippet is appended to the page's Python examples and
checked with `mypy --strict`; every documented message must come out. pyright
words its messages its own way: there, each snippet must be an error and the
examples around them must not, and a `pyright: ...` line after a snippet is
a message pyright must give for it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
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
            code = [line for line in lines if not line.startswith(MESSAGES)]
            (error,) = [line for line in lines if line.startswith("error: ")]
            pairs.append(("\n".join(code), error.removeprefix("error: ")))
    return pairs


MESSAGES = ("error: ", "pyright: ")


def documented_pyright_messages(text: str) -> list[str | None]:
    """The `pyright: ` message of each snippet, in the order of
    `documented_errors`; None for a snippet without one."""
    messages: list[str | None] = []
    for block in re.findall(r"```text\n(.*?)```", text, flags=re.DOTALL):
        for chunk in block.strip().split("\n\n"):
            found = [
                line.removeprefix("pyright: ")
                for line in chunk.splitlines()
                if line.startswith("pyright: ")
            ]
            messages.append(found[0] if found else None)
    return messages


def documented_source(text: str) -> tuple[str, list[tuple[str, str]], list[range]]:
    """The page's permissions example with each snippet appended as a function
    of its own; its (snippet, message) pairs, and the lines of the example
    (first) and of each snippet."""
    pairs = documented_errors(text)
    blocks = python_blocks(text)
    # The README's permissions example defines what its errors refer to.
    base = next(b for b in blocks if "ACL[Perm]" in b)
    lines = [range(base.count("\n"))]
    source = base + "\nfrom aiohttp_guard import Authenticated, Requires\n"
    for index, (snippet, _) in enumerate(pairs):
        source += f"\n\ndef case_{index}() -> None:\n"
        first = source.count("\n")
        source += "\n".join("    " + line for line in snippet.splitlines())
        lines.append(range(first, source.count("\n") + 1))
    return source, pairs, lines


def test_the_permissions_page_gives_pyrights_messages_too() -> None:
    text = (ROOT / "docs/howto/typed-permissions.md").read_text()
    assert None not in documented_pyright_messages(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_documented_type_errors(page: Path, tmp_path: Path) -> None:
    source, pairs, _ = documented_source(page.read_text())
    assert pairs, f"{page.name} documents no type errors"
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


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pyright_finds_the_documented_type_errors(page: Path, tmp_path: Path) -> None:
    source, pairs, lines = documented_source(page.read_text())
    (tmp_path / "documented.py").write_text(source)
    (tmp_path / "pyrightconfig.json").write_text(
        json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11"})
    )
    checker = Path(sys.executable).with_name("basedpyright")
    result = subprocess.run(  # noqa: S603 - the checker the dev extra installs
        [str(checker), "--outputjson", "--pythonpath", sys.executable],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    error_lines = {d["range"]["start"]["line"] for d in errors}
    example, *snippets = lines
    messages = documented_pyright_messages(page.read_text())
    for (snippet, _), span, message in zip(pairs, snippets, messages, strict=True):
        assert error_lines & set(span), f"pyright accepts {snippet!r}"
        if message is None:
            continue
        said = [d["message"] for d in errors if d["range"]["start"]["line"] in span]
        head = message.split("...")[0].rstrip(" ,;")
        assert any(head in text for text in said), (
            f"{snippet!r}: pyright did not say {head!r}\n{said}"
        )
    wrong = sorted(error_lines & set(example))
    assert not wrong, f"pyright rejects the example at lines {wrong}: {result.stdout}"
