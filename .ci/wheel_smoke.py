"""The built wheel, installed alone, does what the README says.

Run by `.ci/run` with the interpreter of a fresh virtual environment that
holds only the wheel (and what it depends on), from a folder outside the
checkout, so that nothing is imported from the source tree:

    python wheel_smoke.py README.md

It checks the package ships its typing marker and demo, serves the README's
quickstart with the command the README prints, and drives the demo; a file
missing from the wheel fails one of them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, CookieJar


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(command: list[str], cwd: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, cwd=cwd)  # noqa: S603 - our own command
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{command} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    sys.exit(f"{command} did not listen on port {port}")


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"wheel smoke test: {what}")
    print(f"ok: {what}")


def installed_package() -> Path:
    spec = importlib.util.find_spec("aiohttp_guard")
    if spec is None or spec.origin is None:
        sys.exit("aiohttp_guard is not installed")
    package = Path(spec.origin).parent
    check("site-packages" in package.parts, f"imported from the wheel ({package})")
    check((package / "py.typed").is_file(), "the wheel ships py.typed")
    check((package / "demo" / "__main__.py").is_file(), "the wheel ships the demo")
    return package


def write_quickstart(readme: Path, workdir: Path) -> None:
    """Save the README's quickstart as `quickstart.py`, as the README says."""
    text = readme.read_text()
    section = text[text.index("## Quickstart") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    if code is None:
        sys.exit("wheel smoke test: the README has no quickstart")
    (workdir / "quickstart.py").write_text(code.group(1))


async def quickstart(workdir: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "aiohttp.web", "-H", "127.0.0.1", "-P"]
    server = serve([*command, str(port), "quickstart:make_app"], workdir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as client:
            async with client.get(f"{base}/me") as anonymous:
                check(anonymous.status == 401, "quickstart: /me needs a login")
            form = {"username": "alice", "password": "wonderland"}
            async with client.post(f"{base}/login", data=form) as me:
                text = await me.text()
                check(text == "Hello, alice", f"quickstart: logged in ({text!r})")
    finally:
        server.terminate()
        server.wait()


async def demo(workdir: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "aiohttp_guard.demo", "--port", str(port)]
    server = serve(command, workdir, port)
    base = f"http://127.0.0.1:{port}"
    html = {"Accept": "text/html"}
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as client:
            async with client.get(base, headers=html) as home:
                check(home.status == 200, "demo: the home page")
                styles = re.findall(r'href="(/static/[^"]+)"', await home.text())
            for path in styles:
                async with client.get(f"{base}{path}") as asset:
                    check(asset.status == 200, f"demo: {path} is in the wheel")
            form = {"username": "user", "password": "password"}
            async with client.post(f"{base}/login", data=form, headers=html) as login:
                text = await login.text()
                check("user" in text and login.status == 200, "demo: log in")
            async with client.get(f"{base}/edit", headers=html) as edit:
                check(edit.status == 403, "demo: /edit is forbidden to user")
    finally:
        server.terminate()
        server.wait()


def demo_names_the_redis_extra(workdir: Path) -> None:
    """Without redis installed, `--redis` says which extra to install."""
    if importlib.util.find_spec("redis") is None:
        command = [sys.executable, "-m", "aiohttp_guard.demo"]
        finished = subprocess.run(  # noqa: S603 - our own command
            [*command, "--redis", "redis://127.0.0.1:6379/0"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        said = finished.stderr.strip()
        check(
            finished.returncode != 0 and "aiohttp_guard[redis]" in said,
            f"demo: --redis without redis names the extra ({said!r})",
        )


def main() -> None:
    readme = Path(sys.argv[1]).resolve()
    installed_package()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        write_quickstart(readme, workdir)
        asyncio.run(quickstart(workdir))
        asyncio.run(demo(workdir))
        demo_names_the_redis_extra(workdir)


if __name__ == "__main__":
    main()
