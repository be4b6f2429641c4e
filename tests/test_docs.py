"""Every Python block of the docs runs: a page's blocks in order, in one
namespace, and the `test_*` functions a page defines against a real server."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

import aiohttp_guard
from aiohttp_guard import acl, auth, testing

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.rglob("*.md"))


def run_page(path: Path) -> dict[str, object]:
    module = types.ModuleType(f"docs_{path.stem.replace('-', '_')}")
    for block in re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL):
        exec(compile(block, str(path), "exec"), module.__dict__)  # noqa: S102
    return module.__dict__


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
async def test_page_examples_run(path: Path, aiohttp_client: AiohttpClient) -> None:
    namespace = run_page(path)
    for name, value in namespace.items():
        if name.startswith("test_") and inspect.iscoroutinefunction(value):
            await value(aiohttp_client)


def test_there_are_pages() -> None:
    names = {str(p.relative_to(DOCS)) for p in PAGES}
    assert {"tutorial.md", "reference.md", "howto/api-tokens.md"} <= names


def test_reference_names_every_public_name() -> None:
    reference = (DOCS / "reference.md").read_text()
    for module in (aiohttp_guard, acl, auth, testing):
        for name in module.__all__:
            assert re.search(rf"\b{name}\b", reference), (
                f"{name} is not in reference.md"
            )
