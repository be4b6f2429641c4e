"""Every Python block of the docs runs: a page's blocks in order, in one
namespace, and the `test_*` functions a page defines against a real server.

This module needs only what the docs tell a user to install: `.ci/run` also
runs it, with the docs alone, against the built wheel in a fresh virtual
environment (`.ci/wheel_docs.py`). The type checks of the pages are in
`test_docs_typing.py`."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

import aiohttp_guard
from aiohttp_guard import TicketCodec, acl, auth, testing

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
CODE_PAGES = [page for page in PAGES if "```python" in page.read_text()]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def module_name(path: Path) -> str:
    """`docs_howto_api_tokens` for `howto/api-tokens.md`."""
    name = str(path.relative_to(DOCS).with_suffix("")).replace("/", "_")
    return "docs_" + name.replace("-", "_")


def run_page(path: Path) -> dict[str, object]:
    module = types.ModuleType(module_name(path))
    for block in python_blocks(path):
        # As written: without this module's `from __future__ import annotations`.
        code = compile(block, str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102
    return module.__dict__


def page_tests(namespace: dict[str, object]) -> list[Callable[..., object]]:
    """The test functions a page defines, sync or async."""
    return [
        value
        for name, value in namespace.items()
        if name.startswith("test_") and inspect.isfunction(value)
    ]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
async def test_page_examples_run(path: Path, aiohttp_client: AiohttpClient) -> None:
    for test in page_tests(run_page(path)):
        wanted = inspect.signature(test).parameters
        result = test(aiohttp_client) if "aiohttp_client" in wanted else test()
        if inspect.isawaitable(result):
            await result


# The pages that teach writing tests, the file each tells you to put its
# code in, and the command it tells you to run.
PYTEST_PAGES: dict[str, tuple[str, list[str]]] = {
    "tutorial.md": ("wiki.py", ["wiki.py"]),
    "howto/testing.md": ("test_dashboard.py", []),
}


@pytest.mark.parametrize("page", sorted(PYTEST_PAGES))
def test_page_tests_pass_in_a_fresh_project(page: str, tmp_path: Path) -> None:
    """Outside this repository (and its pytest configuration), with only the
    configuration the page shows."""
    path = DOCS / page
    (config,) = re.findall(r"```toml\n(.*?)```", path.read_text(), flags=re.DOTALL)
    assert config.startswith("[tool.pytest.ini_options]\n")
    (tmp_path / "pyproject.toml").write_text(config)
    filename, arguments = PYTEST_PAGES[page]
    (tmp_path / filename).write_text("\n".join(python_blocks(path)))
    tests = len(page_tests(run_page(path)))
    result = subprocess.run(  # noqa: S603 - pytest, on the page's own code
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "error"},  # and without warnings
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{tests} passed" in result.stdout, result.stdout


def app_factories(path: Path) -> dict[str, Callable[..., object]]:
    namespace = run_page(path)
    return {
        name: value
        for name, value in namespace.items()
        if inspect.isfunction(value)
        and value.__module__ == namespace["__name__"]
        and inspect.signature(value).return_annotation is web.Application
    }


@pytest.mark.parametrize("path", CODE_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_app_factories_serve_with_aiohttp_web(path: Path) -> None:
    """`python -m aiohttp.web module:factory` calls `factory(argv)`, with
    the arguments it does not know: the page shows the command and the URL."""
    text = path.read_text()
    for name, factory in app_factories(path).items():
        assert isinstance(factory(["--an-option-of-yours"]), web.Application)
        assert isinstance(factory([]), web.Application)
        command = rf"`python -m aiohttp\.web -H 127\.0\.0\.1 -P (\d+) \w+:{name}`"
        port = re.search(command, text)
        assert port, f"{path.name} does not show how to serve {name}"
        assert f"<http://127.0.0.1:{port.group(1)}/" in text


def test_the_docs_have_app_factories() -> None:
    assert "make_wiki" in app_factories(DOCS / "tutorial.md")


def test_api_tokens_sign_with_the_keys_of_auth_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new, old = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("AUTH_KEYS", f"{new.hex()},{old.hex()}")
    codec = run_page(DOCS / "howto/api-tokens.md")["CODEC"]
    assert isinstance(codec, TicketCodec)
    token = codec.encode(codec.issue("robot", max_age=60))
    assert TicketCodec(new).decode(token).user_id == "robot"
    assert codec.is_retiring(TicketCodec(old).signing_key_id)


def test_api_tokens_without_auth_keys_sign_with_a_random_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AUTH_KEYS", raising=False)
    first = run_page(DOCS / "howto/api-tokens.md")["CODEC"]
    second = run_page(DOCS / "howto/api-tokens.md")["CODEC"]
    assert isinstance(first, TicketCodec)
    assert isinstance(second, TicketCodec)
    assert first.signing_key_id != second.signing_key_id
    assert "AUTH_KEYS is not set" in caplog.text


def test_there_are_pages() -> None:
    names = {str(p.relative_to(DOCS)) for p in PAGES}
    assert {"tutorial.md", "reference.md", "howto/api-tokens.md"} <= names


def test_reference_names_the_compatibility_modules_names_in_their_sections() -> None:
    reference = (DOCS / "reference.md").read_text()
    for module in (acl, auth):
        heading = f"### `{module.__name__}`\n"
        section = reference.split(heading)[1].split("\n#")[0]
        for name in module.__all__:
            assert re.search(rf"`{name}\b", section), (
                f"{name} is not in the {module.__name__} section of reference.md"
            )


def test_reference_names_every_public_name() -> None:
    reference = (DOCS / "reference.md").read_text()
    for module in (aiohttp_guard, acl, auth, testing):
        for name in module.__all__:
            assert re.search(rf"\b{name}\b", reference), (
                f"{name} is not in reference.md"
            )
