"""The docs' Python blocks run against the built wheel, with only what the
docs tell a user to install.

Run by `.ci/run` with the interpreter of the fresh virtual environment that
holds the wheel, from a folder outside the checkout:

    python wheel_docs.py CHECKOUT

It installs what the docs' `pip install` commands name, copies the docs and
`tests/test_docs.py` (nothing else of the checkout) into a temporary folder
with the pytest configuration the tutorial shows, and runs them there: a
page that needs a package it does not name, or a name the wheel lacks,
fails.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def documented_packages(docs: Path) -> list[str]:
    """Every package a `pip install` command of the docs names."""
    found: list[str] = []
    for page in sorted(docs.rglob("*.md")):
        for command in re.findall(r"pip install ([^`\n]+)", page.read_text()):
            found.extend(a for a in shlex.split(command) if a not in found)
    return found


def pytest_configuration(tutorial: Path) -> str:
    """The one the tutorial shows (and the testing how-to repeats)."""
    found: list[str] = re.findall(r"```toml\n(.*?)```", tutorial.read_text(), re.DOTALL)
    (config,) = found
    return config


def main() -> None:
    checkout = Path(sys.argv[1]).resolve()
    docs = checkout / "docs"
    packages = documented_packages(docs)
    print(f"installing what the docs name: {' '.join(packages)}")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", *packages]
    subprocess.run(pip, check=True)  # noqa: S603 - the docs' own command
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        shutil.copytree(docs, project / "docs")
        (project / "tests").mkdir()
        shutil.copy(checkout / "tests" / "test_docs.py", project / "tests")
        config = pytest_configuration(docs / "tutorial.md")
        (project / "pyproject.toml").write_text(config)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        finished = subprocess.run(command, cwd=project, check=False)  # noqa: S603
    sys.exit(finished.returncode)


if __name__ == "__main__":
    main()
