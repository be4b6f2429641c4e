"""Where a guarded request's time goes: a sampling profile of the server under
the HTTP benchmark's load, beside bare aiohttp's.

    python -m benchmarks.profiling                  # valid cookie, 10 s each
    python -m benchmarks.profiling --scenario forbidden --seconds 5

Each app runs in its own server process pinned to CPU 0, loaded by wrk pinned
to CPU 1, and sampled from outside by py-spy (no hook in the server, so the
many small calls of a request are not inflated the way an in-process profiler
inflates them). Time in C functions counts for the Python function that
called them. The tables give microseconds of the server's busy time per
request, by the file of the innermost Python frame, and by function for
aiohttp_guard's own code. (Sampling without pausing the server reads each
awaited coroutine as a stack of its own, so only innermost frames are used.)
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from . import http
from .http_apps import CONTENDERS

GUARD = "aiohttp_guard cookie"
LIBRARY = "aiohttp_guard/"
#: The event loop waiting for the network: not work, left out of busy time.
IDLE_LEAVES = ("EpollSelector.select", "PollSelector.select", "SelectSelector.select")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):\d+\)$")
Frame = tuple[str, str]  # (function, file)


def innermost_frames(text: str) -> Counter[Frame]:
    """Samples by innermost frame, from py-spy's collapsed stacks
    ("root;...;innermost count")."""
    samples: Counter[Frame] = Counter()
    for line in text.splitlines():
        path, _, count = line.rpartition(" ")
        if not path or not count.isdigit():
            continue
        innermost = path.rpartition(";")[2]
        match = _FRAME.match(innermost)
        frame = (match["function"], match["file"]) if match else (innermost, "?")
        samples[frame] += int(count)
    return samples


class Profile:
    """Busy samples by the file of the innermost frame, and by function for
    the library's own; `per_sample` turns samples into microseconds per
    request."""

    def __init__(self, samples: Counter[Frame], requests: int, seconds: float) -> None:
        total = sum(samples.values())
        busy = {f: n for f, n in samples.items() if f[0] not in IDLE_LEAVES}
        self.per_sample = seconds / max(total, 1) / max(requests, 1) * 1e6
        self.requests = requests
        self.busy = sum(busy.values())
        self.by_file: Counter[str] = Counter()
        self.own: Counter[str] = Counter()
        for (function, file), n in busy.items():
            self.by_file[file] += n
            if file.startswith(LIBRARY):
                self.own[f"{file.removeprefix(LIBRARY)} {function}"] += n

    @property
    def library(self) -> int:
        return sum(self.own.values())

    def us(self, samples: float) -> float:
        """Microseconds per request that `samples` stand for."""
        return samples * self.per_sample


def py_spy() -> str:
    return str(Path(sys.executable).with_name("py-spy"))


async def profile(contender: str, scenario: str, seconds: int) -> Profile:
    """Load one contender's server with one scenario, sampled by py-spy."""
    wrk = http.ensure_wrk()
    process, base = await http.start(contender)
    try:
        offered = await http.credentials(contender, base, http.MANY_USERS)
        scenarios = {offer.name: offer for offer in offered}
        chosen = scenarios[scenario]
        headers, expected, method = chosen.headers, chosen.expected, chosen.method
        script = http.status_script(method, chosen.cookies)
        stacks = script.with_name("stacks.txt")
        sampler = subprocess.Popen(  # noqa: ASYNC220, S603 - runs beside wrk
            ["taskset", "-c", "1", py_spy(), "record", "--idle", "--nonblocking",  # noqa: S607
             "--rate", "1000", "--duration", str(seconds), "--format", "raw",
             "--output", str(stacks), "--pid", str(process.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _, _, statuses = http.wrk_run(
            wrk,
            str(script),
            f"{base}/protected",
            headers,
            seconds=seconds,
            connections=32,
        )
        if sampler.wait() != 0:  # wrk has finished: py-spy is done too
            raise RuntimeError("py-spy failed: can it attach (ptrace) here?")
    finally:
        process.terminate()
        process.wait()
    if set(statuses) != {expected}:
        raise RuntimeError(f"statuses {statuses}, expected only {expected}")
    samples = innermost_frames(stacks.read_text())
    return Profile(samples, sum(statuses.values()), seconds)


def report(bare: Profile, guard: Profile, *, top: int) -> None:
    print(
        f"\nServer busy time per request: bare aiohttp {bare.us(bare.busy):.1f} us, "
        f"aiohttp_guard {guard.us(guard.busy):.1f} us, of which "
        f"{guard.us(guard.library):.1f} us in aiohttp_guard's own functions"
    )
    print("\n### By file of the innermost frame, us per request\n")
    print("| file | bare aiohttp | aiohttp_guard | difference |")
    print("| --- | --- | --- | --- |")
    files = sorted(
        set(bare.by_file) | set(guard.by_file),
        key=lambda f: guard.us(guard.by_file[f]) - bare.us(bare.by_file[f]),
        reverse=True,
    )
    for name in files[:top]:
        b, g = bare.us(bare.by_file[name]), guard.us(guard.by_file[name])
        print(f"| {name} | {b:.2f} | {g:.2f} | {g - b:+.2f} |")
    rest_b = bare.us(sum(bare.by_file[f] for f in files[top:]))
    rest_g = guard.us(sum(guard.by_file[f] for f in files[top:]))
    print(f"| the other {len(files[top:])} files | {rest_b:.2f} | {rest_g:.2f} | "
          f"{rest_g - rest_b:+.2f} |")  # fmt: skip
    print("\n### aiohttp_guard's functions, us per request\n")
    print("| function | us | share of the request |")
    print("| --- | --- | --- |")
    for name, n in guard.own.most_common(top):
        print(f"| {name} | {guard.us(n):.2f} | {n / guard.busy:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scenario",
        default="valid",
        choices=[
            "valid",
            "no credential",
            "tampered",
            "forbidden",
            f"valid, {http.MANY_USERS} users",
        ],
    )
    parser.add_argument(
        "--contender",
        default=GUARD,
        choices=[name for name in CONTENDERS if name.startswith("aiohttp_guard")],
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=15, help="rows per table")
    args = parser.parse_args()
    asyncio.run(http.check_services([args.contender]))
    bare = asyncio.run(profile(http.BARE, "valid", args.seconds))
    guard = asyncio.run(profile(args.contender, args.scenario, args.seconds))
    print(f"## Profile: {args.contender}, {args.scenario}, against bare aiohttp")
    print(
        f"\n{args.seconds} s each: {guard.requests} guarded requests "
        f"({guard.requests / args.seconds:.0f}/s), {bare.requests} bare ones "
        f"({bare.requests / args.seconds:.0f}/s), sampled by py-spy at 1 kHz"
    )
    report(bare, guard, top=args.top)


if __name__ == "__main__":
    main()
