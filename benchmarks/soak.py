"""Load and soak: a real server process under a mix of good and bad credentials.

    python -m benchmarks.soak --seconds 300 --concurrency 32
    python -m benchmarks.soak --seconds 300 --sessions 10000

Starts `benchmarks.soak_app` on a free loopback port (pinned to one CPU), sends
requests from this process (pinned to the other) for a bounded time, and
checks every answer against what its credential must get: valid, expired,
tampered, revoked, missing and garbage credentials, by cookie and by bearer
token, on public, authenticated and permission-guarded routes. Reports the
requests made, wrong decisions and 5xx answers (both must be 0) and the
server's memory at start and end. Exits non-zero on any wrong answer.

With `--sessions N`, the editor's cookie is one of N tickets of N distinct
login sessions, sent in turn: every session is seen once before the memory
at start is read, so that what the server keeps per session (its record,
when it last wrote its last sight) is counted at start, and growth during
the run is growth per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp

from aiohttp_guard import TicketCodec

from ._ports import free_port, wait_for_port
from .soak_app import MAX_AGE, REVOKED_USER

ROUTES = ("/public", "/guarded", "/edit")
ROOT = Path(__file__).resolve().parent.parent


def ticket(
    secret: bytes,
    user_id: str,
    *,
    issued_ago: float = 0,
    session_id: str | None = None,
) -> str:
    """A ticket issued `issued_ago` seconds ago, in login session `session_id`."""
    codec = TicketCodec(secret, clock=lambda: time.time() - issued_ago)
    return codec.encode(codec.issue(user_id, MAX_AGE, session_id=session_id))


def session_tickets(secret: bytes, count: int) -> list[str]:
    """The editor's tickets of `count` distinct login sessions."""
    return [ticket(secret, "alice", session_id=f"soak-{i}") for i in range(count)]


Credential = tuple[str, dict[str, str], tuple[int, int, int]]


def credentials(secret: bytes, started: float) -> list[Credential]:
    """(name, headers, expected statuses for ROUTES), freshly made."""
    alice = ticket(secret, "alice")
    before_start = time.time() - started + 30  # issued before the revocation
    revoked = ticket(secret, REVOKED_USER, issued_ago=before_start)
    return [
        ("editor cookie", {"Cookie": f"AUTH_TKT={alice}"}, (200, 200, 200)),
        (
            "reader bearer",
            {"Authorization": f"Bearer {ticket(secret, 'bob')}"},
            (200, 200, 403),
        ),
        (
            "expired cookie",
            {"Cookie": f"AUTH_TKT={ticket(secret, 'alice', issued_ago=2 * MAX_AGE)}"},
            (200, 401, 401),
        ),
        (
            "tampered cookie",
            {"Cookie": f"AUTH_TKT={alice[:-4]}AAAA"},
            (200, 401, 401),
        ),
        (
            "revoked cookie",
            {"Cookie": f"AUTH_TKT={revoked}"},
            (200, 401, 401),
        ),
        ("no credential", {}, (200, 401, 401)),
        ("garbage bearer", {"Authorization": "Bearer v1.AAAA.BBBB"}, (200, 401, 401)),
    ]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def pin(pid: int, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {cpu})


async def start_server(secret: bytes) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.soak_app",
        "--port", str(port), "--secret", secret.hex(),
        cwd=ROOT,
    )  # fmt: skip
    pin(process.pid, 0)
    if await wait_for_port(port):
        return process, f"http://127.0.0.1:{port}"
    raise RuntimeError("the soak server did not start")


async def load(
    base: str,
    seconds: float,
    concurrency: int,
    make_credentials: Callable[[], list[Credential]],
    sessions: list[str] | None = None,
) -> tuple[Counter[str], list[str]]:
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    deadline = time.monotonic() + seconds
    plan = itertools.cycle([(c, r) for c in range(7) for r in range(len(ROUTES))])
    creds = make_credentials()
    refreshed = time.monotonic()
    in_turn = itertools.cycle(sessions or [""])

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal creds, refreshed
        while time.monotonic() < deadline:
            if time.monotonic() - refreshed > 30:  # keep good tickets good
                creds, refreshed = make_credentials(), time.monotonic()
            which, route = next(plan)
            name, headers, expected = creds[which]
            if which == 0 and sessions:  # the editor, in one session after another
                headers = {"Cookie": f"AUTH_TKT={next(in_turn)}"}
            async with session.get(base + ROUTES[route], headers=headers) as response:
                await response.read()
                status = response.status
            counts["requests"] += 1
            if status >= 500:
                counts["5xx"] += 1
            if status != expected[route]:
                counts["wrong"] += 1
                if len(wrong) < 10:
                    wrong.append(
                        f"{name} {ROUTES[route]}: {status}, not {expected[route]}"
                    )

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return counts, wrong


async def see_every_session(base: str, sessions: list[str]) -> None:
    """Present each session's ticket once, so that the server knows them all."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
        for session_ticket in sessions:
            headers = {"Cookie": f"AUTH_TKT={session_ticket}"}
            async with client.get(base + "/guarded", headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"a session's ticket got {response.status}")


async def soak(seconds: float, concurrency: int, session_count: int = 0) -> int:
    secret = os.urandom(32)
    pin(0, 1)
    process, base = await start_server(secret)
    started = time.time()
    sessions = session_tickets(secret, session_count)
    try:
        await see_every_session(base, sessions)
        await load(
            base, 1, concurrency, lambda: credentials(secret, started), sessions
        )  # warm up
        rss_start = rss_kib(process.pid)
        counts, wrong = await load(
            base, seconds, concurrency, lambda: credentials(secret, started), sessions
        )
        rss_end = rss_kib(process.pid)
    finally:
        process.terminate()
        await process.wait()
    rate = counts["requests"] / seconds
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| duration | {seconds:.0f} s, {concurrency} connections |")
    print(f"| distinct login sessions | {max(session_count, 1)} of the editor |")
    print(f"| requests | {counts['requests']} ({rate:.0f}/s) |")
    print(f"| wrong decisions | {counts['wrong']} |")
    print(f"| 5xx answers | {counts['5xx']} |")
    memory = f"{rss_start / 1024:.1f} MiB at start, {rss_end / 1024:.1f} MiB at end"
    print(f"| server RSS | {memory} |")
    for line in wrong:
        print(f"wrong: {line}")
    return 1 if counts["wrong"] or counts["5xx"] or not counts["requests"] else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--sessions", type=int, default=0, help="distinct login sessions"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(soak(args.seconds, args.concurrency, args.sessions)))


if __name__ == "__main__":
    main()
