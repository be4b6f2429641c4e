"""The README's Python examples, run as they are printed."""

from __future__ import annotations

import re
import types
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def readme_module(index: int) -> types.ModuleType:
    """Execute the README's `index`-th Python block as a module."""
    module = types.ModuleType(f"readme_example_{index}")
    code = compile(python_blocks(README.read_text())[index], str(README), "exec")
    exec(code, module.__dict__)  # noqa: S102 - our own documentation
    return module
