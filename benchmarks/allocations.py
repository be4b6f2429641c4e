"""Memory blocks allocated and garbage collections per request: bare aiohttp,
an empty middleware and aiohttp_guard's cookie app, driven in one process.

    python -m benchmarks.allocations                   # 10,000 requests a case
    python -m benchmarks.allocations --requests 1000
    python -m benchmarks.allocations --smoke           # checks statuses only

Counts, never timings: the figures are the same on a busy machine. Each
request is a new mocked request (built outside what is counted, as a server
would have parsed it) handled through `Application._handle`: routing,
middlewares, guards and the handler, not the socket nor the response's bytes.
The same credential is sent again and again, as wrk does in the HTTP
benchmark, so the caches of tickets seen before are warm; the case "a new
user each request" cycles through more users' tickets than any cache keeps
(as the HTTP benchmark's many-users scenario), after two cycles as warm-up.

Blocks are counted by a hook on CPython's allocator (`_alloc_counter.c`,
compiled with the system's C compiler, `cc` or $CC): every call into
`PyObject_Malloc`/`PyMem_Malloc` and their calloc and realloc, i.e. every
Python object and buffer made, except the objects CPython takes from its
free lists (tuples, lists, dicts, floats and a few more, reused without a
call to the allocator). Garbage collections are counted by `gc.callbacks`.
The allocation sites come from tracemalloc, with frees held back by the same
hook while the requests run, so that every block allocated keeps its trace.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import itertools
import linecache
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from . import http, http_apps
from .inprocess import handle

HERE = Path(__file__).resolve().parent
GUARD_VALID = "aiohttp_guard cookie, valid"
HARNESS = "the harness alone (requests built, not handled)"
#: Where the sites' table looks: the library's own source files.
LIBRARY = f"{os.sep}aiohttp_guard{os.sep}"


class Case(NamedTuple):
    name: str
    app: Callable[[], web.Application] | None  # None: the harness alone
    headers: dict[str, str]
    expected: int
    #: How many users' tickets to cycle through instead of `headers`' (0: none).
    users: int = 0


#: More users than the ticket, principal and decision caches keep (4096).
MANY_USERS = 10_000


def cases() -> list[Case]:
    valid = http.signed_ticket("alice")
    cookie = {"Cookie": f"AUTH_TKT={valid}"}
    guard = http_apps.CONTENDERS["aiohttp_guard cookie"]
    return [
        Case(HARNESS, None, cookie, 0),
        Case("bare aiohttp", http_apps.bare, {}, 200),
        Case("aiohttp + an empty middleware", http_apps.with_empty_middleware, {}, 200),
        Case(GUARD_VALID, guard, cookie, 200),
        Case("aiohttp_guard cookie, no credential", guard, {}, 401),
        Case(
            "aiohttp_guard cookie, tampered",
            guard,
            {"Cookie": f"AUTH_TKT={http.tamper(valid)}"},
            401,
        ),
        Case(
            "aiohttp_guard cookie, forbidden",
            guard,
            {"Cookie": f"AUTH_TKT={http.signed_ticket('bob')}"},
            403,
        ),
        Case(
            "aiohttp_guard cookie, a new user each request", guard, {}, 200, MANY_USERS
        ),
    ]


def user_headers(users: int) -> list[dict[str, str]]:
    """The Cookie headers of `users` distinct users who may all edit."""
    return [
        {"Cookie": f"AUTH_TKT={http.signed_ticket(f'{http_apps.EDITOR_PREFIX}{n}')}"}
        for n in range(users)
    ]


class _Transport:
    """A socket's transport, as far as a request reads it."""

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def is_closing(self) -> bool:
        return False


class _Protocol:
    """What a request reads of aiohttp's protocol: plain attributes, where
    `make_mocked_request`'s mocks would record each read and keep it."""

    max_field_size = 8190
    max_line_length = 8190
    max_headers = 128
    ssl_context = None
    peername = ("127.0.0.1", 50000)
    sockname = ("127.0.0.1", 8080)

    def __init__(self) -> None:
        self.transport = _Transport()
        self.writer = None


def template_request(app: web.Application, headers: dict[str, str]) -> web.Request:
    """A request to clone, one per request handled (a clone has caches of its
    own), made once: `make_mocked_request` with stubs for its mocks."""
    protocol = _Protocol()
    return make_mocked_request(
        "GET",
        "/protected",
        headers=headers,
        app=app,
        protocol=protocol,
        transport=protocol.transport,
        writer=None,
    )


class AllocationCounter:
    """The hook of `_alloc_counter.c`, compiled into a temporary folder."""

    def __init__(self) -> None:
        compiler = shlex.split(
            os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
        )
        if not compiler or shutil.which(compiler[0]) is None:
            raise RuntimeError(
                "benchmarks.allocations needs a C compiler to count allocations: "
                "install one (apt-get install gcc) or name it in $CC"
            )
        self._folder = tempfile.TemporaryDirectory(prefix="alloc_counter-")
        library = Path(self._folder.name) / "_alloc_counter.so"
        subprocess.run(  # noqa: S603
            [*compiler, "-shared", "-fPIC", "-O2", "-o", str(library),
             str(HERE / "_alloc_counter.c")],
            check=True,
        )  # fmt: skip
        # PyDLL: its functions are called holding the GIL, as
        # PyMem_SetAllocator must be.
        self._lib = ctypes.PyDLL(str(library))
        self._lib.alloc_counter_install.restype = None
        self._lib.alloc_counter_uninstall.restype = None
        self._counting = ctypes.c_int.in_dll(self._lib, "alloc_counter_counting")
        self._keeping = ctypes.c_int.in_dll(self._lib, "alloc_counter_keeping")
        self._figures = [
            ctypes.c_ulonglong.in_dll(self._lib, f"alloc_counter_{name}")
            for name in ("allocated", "bytes", "resized", "freed")
        ]

    @contextmanager
    def installed(self) -> Generator[None, None, None]:
        self._lib.alloc_counter_install()
        try:
            yield
        finally:
            self._lib.alloc_counter_uninstall()

    def reset(self) -> None:
        for figure in self._figures:
            figure.value = 0

    def start(self, *, keep: bool = False) -> None:
        """Count (and with `keep`, hold back frees) until `stop`."""
        self._keeping.value = keep
        self._counting.value = 1

    def stop(self) -> None:
        self._counting.value = 0
        self._keeping.value = 0

    def figures(self) -> tuple[int, int, int, int]:
        """Blocks allocated, their bytes, blocks resized, blocks freed."""
        allocated, size, resized, freed = (f.value for f in self._figures)
        return allocated, size, resized, freed


class GcCounts:
    """Garbage collections by generation, and the objects they freed, while
    `active`."""

    def __init__(self) -> None:
        self.active = False
        self.runs = [0, 0, 0]
        self.collected = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if not self.active:
            return
        if phase == "start":
            self.runs[info["generation"]] += 1
        else:
            self.collected += info["collected"]

    @contextmanager
    def registered(self) -> Generator[GcCounts, None, None]:
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            gc.callbacks.remove(self)


@dataclass
class Row:
    case: str
    status: int
    requests: int
    allocated: int
    size: int
    resized: int
    freed: int
    left: int  # pymalloc blocks still allocated after the run and a collection
    gc_runs: list[int]
    gc_collected: int
    overhead: float  # blocks the counter's own start/stop allocate

    def cells(self) -> list[str]:
        n = self.requests
        per_1000 = " / ".join(f"{runs * 1000 / n:.1f}" for runs in self.gc_runs)
        return [
            self.case,
            str(self.status or "-"),
            f"{self.allocated / n - self.overhead:.1f}",
            f"{self.size / n / 1024:.1f}",
            f"{self.resized / n:.1f}",
            f"{self.left / n:+.2f}",
            per_1000,
            f"{self.gc_collected * 1000 / n:.0f}",
        ]


COLUMNS = [
    "case",
    "status",
    "blocks allocated / request",
    "KiB allocated / request",
    "blocks resized / request",
    "blocks left / request",
    "gc runs / 1,000 requests (gen 0 / 1 / 2)",
    "objects the gc freed / 1,000 requests",
]

LEGEND = """\
- blocks allocated: calls to CPython's allocator (PyObject_Malloc,
  PyMem_Malloc, their calloc, and realloc of nothing) while `_handle` runs,
  per request, less the counter's own start and stop (measured: {overhead:.1f}).
  Objects taken from CPython's free lists (tuples, lists, dicts, floats...)
  are not counted.
- KiB allocated: the bytes those calls asked for.
- blocks resized: realloc of a block (a list or bytearray growing...).
- blocks left: `sys.getallocatedblocks()` after the whole run and a full
  collection, less before, per request: memory a request leaves behind
  (about 0: nothing leaks).
- gc runs: garbage collections of each generation (`gc.callbacks` "start")
  over the whole run, requests built and handled, per 1,000 requests. With
  CPython's default thresholds (700, 10, 10) a generation 0 run comes after
  700 more container objects allocated than freed: these count objects
  left for the collector (cycles) or alive past the request, not
  allocations as such.
- objects the gc freed: what those runs found unreachable (cyclic garbage).
- the harness alone: the mocked requests built (clones of one) and dropped,
  counted the same way; it is in the other rows' gc and blocks left
  columns, never in their blocks allocated."""


async def measure(case: Case, requests: int, counter: AllocationCounter | None) -> Row:
    app = case.app() if case.app is not None else None
    headers = user_headers(case.users) if case.users else [case.headers]
    templates = [template_request(app or web.Application(), h) for h in headers]
    if app is not None:
        app.freeze()
    turn = itertools.count()

    async def one_request() -> int:
        request = templates[next(turn) % len(templates)].clone()
        if app is None:
            return 0
        if counter is not None:
            counter.start()
        response = await handle(app, request)
        if counter is not None:
            counter.stop()
        return response.status

    status = 0
    # Warm-up: caches, lazy imports; every user twice (the caches' tables
    # settle in the second round: 8,192 blocks once, then none).
    for _ in range(max(min(requests, 200), 2 * case.users)):
        status = await one_request()
        if status != case.expected:
            raise RuntimeError(f"{case.name}: expected {case.expected}, got {status}")
    overhead = 0.0
    if counter is not None:
        counter.reset()
        for _ in range(1000):
            counter.start()
            counter.stop()
        overhead = counter.figures()[0] / 1000
        counter.reset()
    gc.collect()
    blocks = sys.getallocatedblocks()
    with GcCounts().registered() as counts:
        counts.active = True
        for _ in range(requests):
            status = await one_request()
            if status != case.expected:
                raise RuntimeError(
                    f"{case.name}: expected {case.expected}, got {status}"
                )
        counts.active = False
    gc.collect()
    left = sys.getallocatedblocks() - blocks
    allocated, size, resized, freed = counter.figures() if counter else (0, 0, 0, 0)
    return Row(
        case.name,
        status,
        requests,
        allocated,
        size,
        resized,
        freed,
        left,
        counts.runs,
        counts.collected,
        overhead if app is not None else 0.0,
    )


class Site(NamedTuple):
    place: str  # file:line
    blocks: float  # per request
    kib: float  # per request
    code: str


async def sites(
    counter: AllocationCounter, requests: int, top: int
) -> tuple[list[Site], dict[str, float]]:
    """The `top` lines of aiohttp_guard allocating the most blocks per valid
    request (the innermost Python frame of each allocation), and the blocks
    per request by package of that frame."""
    case = next(c for c in cases() if c.name == GUARD_VALID)
    assert case.app is not None  # noqa: S101 - the guarded case has an app
    app = case.app()
    template = template_request(app, case.headers)
    app.freeze()
    for _ in range(200):
        await handle(app, template.clone())
    # Built before the first snapshot and freed after the second: the
    # snapshots differ by exactly the blocks allocated while requests ran,
    # those the requests still hold (their caches, their context) included.
    built = [template.clone() for _ in range(requests)]
    gc.collect()
    tracemalloc.start(1)
    try:
        with counter.installed():
            before = tracemalloc.take_snapshot()
            for request in built:
                counter.start(keep=True)
                await handle(app, request)
                counter.stop()
            after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    del built
    made = after.compare_to(before, "lineno")
    by_package: Counter[str] = Counter()
    lines: list[tracemalloc.StatisticDiff] = []
    for stat in made:
        if stat.count_diff < requests / 100:  # not something every request does
            continue
        frame = stat.traceback[0]
        by_package[package(frame.filename)] += stat.count_diff
        if LIBRARY in frame.filename:
            lines.append(stat)
    lines.sort(key=lambda stat: stat.count_diff, reverse=True)
    found: list[Site] = []
    for stat in lines[:top]:
        frame = stat.traceback[0]
        short = frame.filename[frame.filename.index(LIBRARY) + 1 :]
        found.append(
            Site(
                f"{short}:{frame.lineno}",
                stat.count_diff / requests,
                stat.size_diff / requests / 1024,
                linecache.getline(frame.filename, frame.lineno).strip(),
            )
        )
    return found, {name: n / requests for name, n in by_package.most_common()}


def package(filename: str) -> str:
    """The top-level package (or stdlib module) a source file belongs to."""
    parts = Path(filename).parts
    for marker in ("site-packages", "src", "benchmarks"):
        if marker in parts:
            index = parts.index(marker)
            if marker == "benchmarks":
                return "benchmarks"
            return parts[index + 1].removesuffix(".py")
    if filename.startswith("<"):
        return filename
    return f"stdlib {Path(filename).stem}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


async def run(*, requests: int, smoke: bool, top: int = 10) -> list[Row]:
    """Print the tables; in smoke mode, check statuses only (no compiler
    needed, no counts printed)."""
    if smoke:
        print("| case | status |\n| --- | --- |")
        for case in cases():
            row = await measure(case, requests, None)
            print(f"| {row.case} | {row.status or '-'} |")
        print(f"\nsmoke: {len(cases())} cases, statuses as expected")
        return []
    counter = AllocationCounter()
    rows: list[Row] = []
    with counter.installed():
        for case in cases():
            rows.append(await measure(case, requests, counter))
    print(f"{requests} requests a case, Python {sys.version.split()[0]}\n")
    print(table(COLUMNS, [row.cells() for row in rows]))
    overhead = max(row.overhead for row in rows)
    print("\n" + LEGEND.format(overhead=overhead))
    site_requests = min(requests, 1000)
    found, by_package = await sites(counter, site_requests, top)
    print(
        f"\nWhere {GUARD_VALID} allocates, over {site_requests} requests: "
        "blocks per request by the package of the innermost Python frame\n"
    )
    print(table(["package", "blocks / request"],
                [[name, f"{n:.1f}"] for name, n in by_package.items()]))  # fmt: skip
    print(f"\nThe top {top} lines of aiohttp_guard (the innermost frame):\n")
    print(
        table(
            ["file:line", "blocks / request", "KiB / request", "code"],
            [
                [s.place, f"{s.blocks:.2f}", f"{s.kib:.2f}", f"`{s.code}`"]
                for s in found
            ],
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, metavar="N")
    parser.add_argument(
        "--smoke", action="store_true", help="a few requests: checks statuses only"
    )
    args = parser.parse_args()
    requests = 20 if args.smoke else args.requests
    asyncio.run(run(requests=requests, smoke=args.smoke))


if __name__ == "__main__":
    main()
