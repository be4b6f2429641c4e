"""This checkout's guarded request beside an earlier commit's, in process,
taking turns: what a change to the library costs in Python alone.

    python -m benchmarks.versions                  # against the commit before
                                                   # the restructuring round
    python -m benchmarks.versions --rev HEAD~5 --runs 10

The earlier commit is checked out into a temporary git worktree. Each run is
a new process that imports one version, builds the same apps from the public
API both share (a cookie ticket, a group resolver and `Requires` on the
3-entry ACL, for a user with the permission, one without, no credential and
a tampered ticket; a `Public()` route; bare aiohttp), handles fresh requests
through `Application._handle`, and reports its best round. The versions
take turns run after run, so that the machine's drift falls on both.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Hashable, Iterable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

ROOT = Path(__file__).resolve().parent.parent
#: The last commit before the restructuring round (one request context,
#: layers): the "before" of that round's speed criterion.
BEFORE_RESTRUCTURING = "d31f4d8"
#: Each scenario, with the status its requests get.
SCENARIOS: dict[str, int] = {
    "bare aiohttp": 200,
    "Public()": 200,
    "Requires, 3-entry ACL": 200,
    "Requires, a user without the permission (403)": 403,
    "Requires, no credential (401)": 401,
    "Requires, a tampered ticket (401)": 401,
}


def build(scenario: str) -> tuple[web.Application, dict[str, str]]:
    """The app of `scenario` and the headers its requests carry, from the
    names every version since the first release exports. Built here, not
    by `http_apps` and `inprocess` (whose ACL and timing loop these
    repeat): those modules import names an earlier version lacks."""
    from aiohttp_guard import (  # noqa: PLC0415 - the version under test
        ACL,
        AuthService,
        CookieTicketPolicy,
        Public,
        Requires,
        TicketCodec,
    )
    from aiohttp_guard.permissions import (  # noqa: PLC0415
        AuthenticatedUser,
        Everyone,
        Permission,
    )

    secret = b"benchmark secret: thirty-two b.."
    groups_of: dict[str, tuple[str, ...]] = {"alice": ("edit_group",), "bob": ()}
    context: ACL[str] = ACL(
        [
            (Permission.Allow, Everyone, ("view",)),
            (Permission.Allow, AuthenticatedUser, ("view", "view_extra")),
            (Permission.Allow, "edit_group", ("view", "view_extra", "edit")),
        ]
    )

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def groups(user_id: str | None) -> Iterable[Hashable]:
        return groups_of.get(user_id or "", ())

    app = web.Application()
    if scenario == "bare aiohttp":
        app.router.add_get("/protected", ok)
    else:
        AuthService(CookieTicketPolicy(secret, 3600), groups=groups).setup(app)
        if scenario == "Public()":
            app.router.add_get("/protected", Public()(ok))
        else:
            app.router.add_get("/protected", Requires("edit", context)(ok))
    app.freeze()
    codec = TicketCodec(secret)
    user = "bob" if "(403)" in scenario else "alice"
    ticket = codec.encode(codec.issue(user, 3600))
    if "no credential" in scenario:
        return app, {}
    if "tampered" in scenario:
        ticket = ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")
    return app, {"Cookie": f"AUTH_TKT={ticket}"}


async def best_round(
    scenario: str, *, rounds: int, number: int, batch: int | None = None
) -> float:
    """Seconds per request in the fastest of `rounds` rounds of `number`
    fresh requests (clones of one made request: a request is new to the
    library each time, as on a server), made `batch` at a time (default:
    all of a round's at once) and timed only while handled. Small batches
    keep the requests' memory warm, as a server's just-parsed request is."""
    app, headers = build(scenario)
    # A writer whose counter is an int: a mocked request's is a Mock, whose
    # attributes cost tens of microseconds to make on first use.
    writer = types.SimpleNamespace(output_size=0)
    template = make_mocked_request(
        "GET", "/protected", headers=headers, app=app, writer=writer
    )
    handle = app._handle  # pyright: ignore[reportPrivateUsage]
    times: list[float] = []
    response: web.StreamResponse | None = None
    size = number if batch is None else min(batch, number)
    for _ in range(rounds + 1):  # the first round warms caches up
        gc.collect()
        spent = 0.0
        for _ in range(number // size):
            requests = [template.clone() for _ in range(size)]
            started = time.perf_counter()
            for request in requests:
                response = await handle(request)
            spent += time.perf_counter() - started
        times.append(spent / (number // size * size))
        expected = SCENARIOS[scenario]
        if response is None or response.status != expected:
            raise RuntimeError(f"{scenario}: expected {expected}, got {response!r}")
    return min(times[1:])


def run_once(
    src: Path, scenario: str, *, quick: bool, batch: int | None = None
) -> float:
    """One run, in a new process importing aiohttp_guard from `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    args = ["--child", scenario] + (["--quick"] if quick else [])
    if batch is not None:
        args += ["--batch", str(batch)]
    out = subprocess.run(  # noqa: S603 - this interpreter, this module
        [sys.executable, "-m", "benchmarks.versions", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.split()[-1])


def git(*args: str) -> None:
    """Run git in this checkout; it must be installed (it made the checkout)."""
    found = shutil.which("git")
    if found is None:
        raise SystemExit("benchmarks.versions needs git, to check out --rev")
    subprocess.run([found, *args], cwd=ROOT, check=True)  # noqa: S603


def compare(
    rev: str, *, runs: int, quick: bool, only: str = "", batch: int | None = None
) -> None:
    """Print the apps' figures for this checkout and for `rev`: the
    scenarios whose name contains `only`."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "before"
        git("worktree", "add", "--detach", "--quiet", str(tree), rev)
        try:
            versions = {"this checkout": ROOT / "src", rev: tree / "src"}
            print(
                f"{runs} runs each, taking turns; best round of each run, per request"
            )
            print()
            print(f"| app | this checkout (min-max) | {rev} (min-max) | difference |")
            print("| --- | --- | --- | --- |")
            for scenario in [name for name in SCENARIOS if only in name]:
                found: dict[str, list[float]] = {name: [] for name in versions}
                for _ in range(runs):
                    for name, src in versions.items():
                        found[name].append(
                            run_once(src, scenario, quick=quick, batch=batch)
                        )
                ours, theirs = found["this checkout"], found[rev]
                more = statistics.median(ours) - statistics.median(theirs)
                print(
                    f"| {scenario} | {_shown(ours)} | {_shown(theirs)} | "
                    f"{more * 1e6:+.2f} us |"
                )
        finally:
            git("worktree", "remove", "--force", str(tree))


def _shown(times: list[float]) -> str:
    return (
        f"{statistics.median(times) * 1e6:.2f} us "
        f"({min(times) * 1e6:.2f}-{max(times) * 1e6:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--rev",
        default=BEFORE_RESTRUCTURING,
        help=f"the commit to compare with (default {BEFORE_RESTRUCTURING})",
    )
    parser.add_argument("--runs", type=int, default=6, help="runs per version")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument(
        "--only",
        default="",
        metavar="TEXT",
        help="run only the scenarios whose name contains TEXT",
    )
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="make the requests N at a time (default: a whole round at once)",
    )
    parser.add_argument("--child", metavar="SCENARIO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rounds, number = (1, 50) if args.quick else (30, 5000)
    if args.child:
        seconds = asyncio.run(
            best_round(args.child, rounds=rounds, number=number, batch=args.batch)
        )
        print(repr(seconds))
        return
    compare(
        args.rev, runs=args.runs, quick=args.quick, only=args.only, batch=args.batch
    )


if __name__ == "__main__":
    main()
