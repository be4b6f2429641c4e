"""HTTP benchmark: each contender's app in its own server process, loaded by
wrk, side by side in one run.

    python -m benchmarks.http                 # 3 rounds of 5 s per run
    python -m benchmarks.http --smoke         # 1 round of 1 s: checks statuses

The server is pinned to CPU 0 and wrk to CPU 1; contenders run in alternating
order over the rounds. Every response's status is counted (a Lua script) and a
run with any unexpected status is reported invalid, never as a number.
"valid, N users" cycles through N distinct valid tickets, every request a
different user (a wrk script reads them from a file); bare aiohttp is sent
the same file in the same round, and that is what it is compared with.
Installs Debian's wrk when it is missing. The Redis store's contender needs
the Redis at REDIS_URL (default redis://127.0.0.1:6379/0): without it the run
stops at once, saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import aiohttp

from aiohttp_guard import TicketCodec

from ._ports import free_port, wait_for_port
from .http_apps import (
    CONTENDERS,
    EDITOR_PREFIX,
    FREEZE_GC,
    REDIS_CONTENDERS,
    REDIS_URL,
    SECRET,
    UNSAFE_METHOD_CONTENDERS,
    redis_problem,
)

ROOT = Path(__file__).resolve().parent.parent
BARE = "bare aiohttp"
BARE_WITH_COOKIE = "bare aiohttp, sent a ticket cookie it ignores"
EMPTY_MIDDLEWARE = "aiohttp + an empty middleware"
#: The references, run whatever `--only` selects.
REFERENCES = (BARE, BARE_WITH_COOKIE, EMPTY_MIDDLEWARE)
STATUS_SCRIPT = """
counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do
      io.write(string.format("status %d %d\\n", status, n))
    end
  end
end
"""


#: How many distinct users the many-users scenario cycles through.
MANY_USERS = 100_000
#: ...and in smoke runs, which check statuses only.
SMOKE_USERS = 1000
#: The contenders that run it: the app, and bare aiohttp sent the same.
MANY_USERS_CONTENDERS = ("aiohttp_guard cookie", BARE_WITH_COOKIE)

CYCLING_SCRIPT = """
local cookies = {}
for line in io.lines("%s") do cookies[#cookies + 1] = line end
local next_one = 0
function request()
  next_one = next_one %% #cookies + 1
  return wrk.format(nil, nil, {["Cookie"] = cookies[next_one]})
end
"""


class Scenario(NamedTuple):
    """One load of a contender: what is sent, and the only status expected;
    `cookies`, a file of Cookie headers sent in turn, one per request."""

    name: str
    headers: dict[str, str]
    expected: int
    method: str = "GET"
    cookies: Path | None = None


def many_users_scenario(users: int) -> Scenario:
    """Every request a different user: `users` distinct tickets, fresh (they
    expire), written to a file once per process."""
    path = _MANY_USERS_FILES.get(users)
    if path is None:
        path = Path(tempfile.mkdtemp()) / f"{users}-users.txt"
        path.write_text(
            "".join(
                f"AUTH_TKT={signed_ticket(f'{EDITOR_PREFIX}{n}')}\n"
                for n in range(users)
            )
        )
        _MANY_USERS_FILES[users] = path
    return Scenario(f"valid, {users} users", {}, 200, cookies=path)


_MANY_USERS_FILES: dict[int, Path] = {}


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)  # noqa: S607
        wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not available")
    return wrk


async def check_services(contenders: list[str]) -> None:
    """Raise, saying why, when a service one of `contenders` needs does not
    answer: such a contender is never skipped, nor measured failing."""
    needing = [name for name in contenders if name in REDIS_CONTENDERS]
    if needing:
        problem = await redis_problem(REDIS_URL)
        if problem is not None:
            raise RuntimeError(f"{', '.join(needing)}: {problem}")


async def start(contender: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220, S603 - returns at once
        ["taskset", "-c", "0", sys.executable, "-m", "benchmarks.http_apps",  # noqa: S607
         contender, "--port", str(port)],
        cwd=ROOT,
    )  # fmt: skip
    if await wait_for_port(port):
        return process, f"http://127.0.0.1:{port}"
    status = process.poll()
    process.kill()
    process.wait()
    exited = "" if status is None else f" (it exited with status {status}: see above)"
    raise RuntimeError(f"{contender} did not start{exited}")


def signed_ticket(user_id: str) -> str:
    """A ticket the aiohttp_guard apps accept for `user_id` (and, as long as
    theirs, the one the bare app is sent and ignores)."""
    codec = TicketCodec(SECRET)
    return codec.encode(codec.issue(user_id, 3600))


def status_script(method: str = "GET", cookies: Path | None = None) -> Path:
    """The wrk script that sends `method` requests (with each of the Cookie
    headers in the file `cookies` in turn, if given) and counts every
    response's status, in a new file."""
    script = Path(tempfile.mkdtemp()) / "statuses.lua"
    cycling = "" if cookies is None else CYCLING_SCRIPT % cookies
    script.write_text(f'wrk.method = "{method}"\n{cycling}{STATUS_SCRIPT}')
    return script


def tamper(value: str) -> str:
    """`value` with its last four characters changed: a forged credential."""
    return value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")


async def credentials(contender: str, base: str, many_users: int) -> list[Scenario]:
    """The scenarios of a contender, with credentials its login gave."""
    if contender == BARE_WITH_COOKIE:  # what the credential's bytes cost alone
        return [
            Scenario("valid", {"Cookie": f"AUTH_TKT={signed_ticket('alice')}"}, 200),
            many_users_scenario(many_users),
        ]
    if contender in REFERENCES:
        return [Scenario("valid", {}, 200)]
    refused = 403 if contender.startswith("aiohttp_auth ") else 401
    headers: dict[str, dict[str, str]] = {}
    for user in ("alice", "bob"):
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base}/login", params={"user": user}) as response,
        ):
            body = await response.text()
            if contender.endswith("bearer"):
                headers[user] = {"Authorization": f"Bearer {body}"}
            elif body:  # aiohttp_auth: a ticket made by its factory
                headers[user] = {"Cookie": f'AUTH_TKT="{body}"'}
            else:
                cookies = "; ".join(
                    f"{k}={m.value}" for k, m in response.cookies.items()
                )
                headers[user] = {"Cookie": cookies}
    name, value = next(iter(headers["alice"].items()))
    tampered = tamper(value.rstrip('"')) + ('"' if value.endswith('"') else "")
    scenarios = [
        Scenario("valid", headers["alice"], 200),
        Scenario("no credential", {}, refused),
        Scenario("tampered", {name: tampered}, refused),
        Scenario("forbidden", headers["bob"], 403),
    ]
    if contender in UNSAFE_METHOD_CONTENDERS:
        # A form posted by the site's own page, as a browser sends it: what
        # the cross-origin check costs beside the same app without it.
        same_origin = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
        scenarios.append(
            Scenario("valid POST", {**headers["alice"], **same_origin}, 200, "POST")
        )
    if contender in MANY_USERS_CONTENDERS:
        scenarios.append(many_users_scenario(many_users))
    return scenarios


def wrk_run(
    wrk: str,
    script: str,
    url: str,
    headers: dict[str, str],
    *,
    seconds: int,
    connections: int,
) -> tuple[float, float, dict[int, int]]:
    command = ["taskset", "-c", "1", wrk, "-t1", f"-c{connections}", f"-d{seconds}s"]
    command += ["--latency", "-s", script]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(  # noqa: S603
        [*command, url], capture_output=True, text=True, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    assert p99_text is not None, output  # noqa: S101 - wrk prints it with --latency
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99_text.group(2)]
    statuses = {
        int(status): int(count)
        for status, count in re.findall(r"^status (\d+) (\d+)$", output, flags=re.M)
    }
    return rate, float(p99_text.group(1)) * scale, statuses


Figures = dict[tuple[str, str], list[float]]


@dataclass
class Results:
    """Every run's requests/s and p99 (ms) by (contender, scenario)."""

    rates: Figures
    p99s: Figures
    invalid: dict[tuple[str, str], str]

    def ratio(self, contender: str, scenario: str) -> float:
        bare = statistics.median(self.rates[(BARE, "valid")])
        return statistics.median(self.rates[(contender, scenario)]) / bare

    def p99_ratio(self, contender: str, scenario: str) -> float:
        bare = statistics.median(self.p99s[(BARE, "valid")])
        return statistics.median(self.p99s[(contender, scenario)]) / bare


async def benchmark(
    rounds: int,
    seconds: int,
    connections: int,
    only: list[str] | None = None,
    many_users: int = MANY_USERS,
) -> Results:
    order = [
        name
        for name in CONTENDERS
        if name in REFERENCES or not only or any(part in name for part in only)
    ]
    await check_services(order)
    wrk = ensure_wrk()
    scripts = {method: status_script(method) for method in ("GET", "POST")}
    cycling: dict[Path, Path] = {}
    rates: dict[tuple[str, str], list[float]] = defaultdict(list)
    p99s: dict[tuple[str, str], list[float]] = defaultdict(list)
    invalid: dict[tuple[str, str], str] = {}
    for round_number in range(rounds):
        for contender in order if round_number % 2 == 0 else order[::-1]:
            process, base = await start(contender)
            try:
                for scenario, headers, expected, method, cookies in await credentials(
                    contender, base, many_users
                ):
                    if cookies is None:
                        script = scripts[method]
                    else:
                        script = cycling.setdefault(
                            cookies, status_script(method, cookies)
                        )
                    rate, p99, statuses = wrk_run(
                        wrk,
                        str(script),
                        f"{base}/protected",
                        headers,
                        seconds=seconds,
                        connections=connections,
                    )
                    key = (contender, scenario)
                    if set(statuses) != {expected}:
                        invalid[key] = f"statuses {statuses}, expected only {expected}"
                    rates[key].append(rate)
                    p99s[key].append(p99)
            finally:
                process.terminate()
                process.wait()
    report(
        rates, p99s, invalid, rounds=rounds, seconds=seconds, connections=connections
    )
    return Results(rates, p99s, invalid)


def report(
    rates: dict[tuple[str, str], list[float]],
    p99s: dict[tuple[str, str], list[float]],
    invalid: dict[tuple[str, str], str],
    *,
    rounds: int,
    seconds: int,
    connections: int,
) -> None:
    bare_rate = statistics.median(rates[(BARE, "valid")])
    bare_p99 = statistics.median(p99s[(BARE, "valid")])
    print(f"\n{rounds} round(s) of {seconds} s per run, {connections} connections\n")
    print(
        "| contender | scenario | requests/s (min-max) | vs bare | p99 | p99 vs bare |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for (contender, scenario), values in rates.items():
        key = (contender, scenario)
        if key in invalid:
            print(f"| {contender} | {scenario} | INVALID: {invalid[key]} | | | |")
            continue
        median = statistics.median(values)
        p99 = statistics.median(p99s[key])
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(
            f"| {contender} | {scenario} | {median:.0f} ({spread}) | "
            f"{median / bare_rate:.2f}x | {p99:.2f} ms | {p99 / bare_p99:.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--users",
        type=int,
        default=MANY_USERS,
        help="distinct users of the many-users scenario",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="run only the contenders whose name contains TEXT (and the references)",
    )
    parser.add_argument(
        "--freeze-gc",
        action="store_true",
        help="every server calls gc.freeze() once started",
    )
    args = parser.parse_args()
    if args.freeze_gc:
        os.environ[FREEZE_GC] = "1"  # read by each server process
    rounds, seconds = (1, 1) if args.smoke else (args.rounds, args.seconds)
    users = SMOKE_USERS if args.smoke else args.users
    results = asyncio.run(
        benchmark(rounds, seconds, args.connections, args.only, users)
    )
    sys.exit(1 if results.invalid else 0)


if __name__ == "__main__":
    main()
