"""The public API: importable from the top level, and documented."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp_guard
from aiohttp_guard import auth, testing

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_public_name_is_exported_and_in_the_readme() -> None:
    for module in (aiohttp_guard, auth, testing):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name} is missing"
            assert re.search(rf"\b{name}\b", README), f"{name} is not in the README"


def test_package_ships_its_type_information() -> None:
    assert (Path(aiohttp_guard.__file__).parent / "py.typed").is_file()
