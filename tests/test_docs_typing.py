"""Each page's code, as one module, passes mypy and pyright in strict mode,
as it would in a user's project."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .test_docs import CODE_PAGES, DOCS, ROOT, module_name, python_blocks

# -- type checks ---------------------------------------------------------------
#
# Each page's blocks, in order, make one module, checked as a user's strict
# project would check it. Both checkers run once over every page.


@pytest.fixture(scope="module")
def page_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs_modules")
    for page in CODE_PAGES:
        (folder / f"{module_name(page)}.py").write_text("\n".join(python_blocks(page)))
    return folder


def by_module(lines: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in lines:
        match = re.match(r"(?:.*[/\\])?(docs_\w+)\.py:", line)
        if match:
            found.setdefault(match.group(1), []).append(line)
    return found


@pytest.fixture(scope="module")
def mypy_errors(page_modules: Path) -> dict[str, list[str]]:
    result = subprocess.run(  # noqa: S603 - the checker the dev extra installs
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--cache-dir",
            str(page_modules / ".mypy_cache"),
            *sorted(str(path) for path in page_modules.glob("*.py")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert f"{len(CODE_PAGES)} source files" in result.stdout, result.stdout
    return by_module(result.stdout.splitlines())


@pytest.fixture(scope="module")
def pyright_errors(page_modules: Path) -> dict[str, list[str]]:
    (page_modules / "pyrightconfig.json").write_text(
        json.dumps(
            {
                "typeCheckingMode": "strict",
                "pythonVersion": "3.11",
                "stubPath": str(ROOT / "typings"),
                # Each block is written to be read alone, so it imports what
                # it uses again: one module made of them all imports twice.
                "reportDuplicateImport": False,
            }
        )
    )
    checker = Path(sys.executable).with_name("basedpyright")
    result = subprocess.run(  # noqa: S603 - the checker the dev extra installs
        [str(checker), "--outputjson", "--pythonpath", sys.executable],
        cwd=page_modules,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["summary"]["filesAnalyzed"] == len(CODE_PAGES), result.stdout
    lines = [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
        f" ({d.get('rule', '')})"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]
    return by_module(lines)


@pytest.mark.parametrize("path", CODE_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_passes_mypy_strict(path: Path, mypy_errors: dict[str, list[str]]) -> None:
    errors = mypy_errors.get(module_name(path), [])
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("path", CODE_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_passes_pyright_strict(
    path: Path, pyright_errors: dict[str, list[str]]
) -> None:
    errors = pyright_errors.get(module_name(path), [])
    assert not errors, "\n".join(errors)
