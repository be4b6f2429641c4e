"""Every benchmark in one run, then one table of the performance targets.

    python -m benchmarks            # micro, in-process, allocations, HTTP: ~12 min
    python -m benchmarks --smoke    # the same in smoke mode: checks it works

The targets table is computed from the figures printed above it, all of them
measured in this run. The soak run (memory under load) is separate:
`python -m benchmarks.soak`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from . import allocations, http, inprocess, micro

GUARD = "aiohttp_guard cookie"
GUARD_REDIS = "aiohttp_guard cookie, Redis store"
GUARD_REDIS_SESSIONS = "aiohttp_guard cookie, Redis store and sessions"
DENY_SCENARIOS = ("no credential", "tampered", "forbidden")


def _verdict(met: bool) -> str:
    return "yes" if met else "no"


def targets(
    figures: dict[str, dict[str, float]], results: http.Results, users: int
) -> list[tuple[str, str, str]]:
    """(target, measured, met) for each target that this run measured."""
    rows: list[tuple[str, str, str]] = []
    valid = results.ratio(GUARD, "valid")
    rows.append(
        (
            "HTTP, valid cookie ticket + resolver + Requires: >= 0.85x bare",
            f"{valid:.2f}x (references: an empty middleware "
            f"{results.ratio(http.EMPTY_MIDDLEWARE, 'valid'):.2f}x, bare aiohttp "
            f"sent the cookie {results.ratio(http.BARE_WITH_COOKIE, 'valid'):.2f}x)",
            _verdict(valid >= 0.85),
        )
    )
    many = f"valid, {users} users"
    crowd = results.ratio(GUARD, many) / results.ratio(http.BARE_WITH_COOKIE, many)
    rows.append(
        (
            f"HTTP, valid cookie ticket, {users} distinct users: >= 0.75x bare "
            "sent the same cookies",
            f"{crowd:.2f}x (one user: {valid:.2f}x of bare)",
            _verdict(crowd >= 0.75),
        )
    )
    shared = results.ratio(GUARD_REDIS, "valid") / valid
    rows.append(
        (
            "HTTP, valid cookie ticket with RedisRevocationStore: >= 0.90x the "
            "in-memory store's",
            f"{shared:.2f}x ({results.ratio(GUARD_REDIS, 'valid'):.2f}x bare)",
            _verdict(shared >= 0.90),
        )
    )
    sessions = results.ratio(GUARD_REDIS_SESSIONS, "valid") / results.ratio(
        GUARD_REDIS, "valid"
    )
    rows.append(
        (
            "HTTP, valid cookie ticket with RedisSessionRegistry: >= 0.90x the "
            "same app with MemorySessionRegistry",
            f"{sessions:.2f}x "
            f"({results.ratio(GUARD_REDIS_SESSIONS, 'valid'):.2f}x bare)",
            _verdict(sessions >= 0.90),
        )
    )
    deny = [results.ratio(GUARD, s) for s in DENY_SCENARIOS]
    p99 = [results.p99_ratio(GUARD, s) for s in DENY_SCENARIOS]
    rows.append(
        (
            "HTTP, deny paths (401, tampered 401, 403): >= 0.80x bare, p99 <= 2x",
            f"{min(deny):.2f}-{max(deny):.2f}x, p99 {min(p99):.2f}-{max(p99):.2f}x",
            f"throughput {_verdict(min(deny) >= 0.80)}, "
            f"p99 {_verdict(max(p99) <= 2.0)}",
        )
    )
    verify = figures[micro.VERIFY]
    floor = verify["HMAC-SHA256 floor (digest + compare_digest)"]
    warm = verify["aiohttp_guard TicketCodec.decode"] / floor
    cold = verify["aiohttp_guard decode, uncached"] / floor
    rows.append(
        (
            "Ticket verify <= 1.5x one HMAC-SHA256 + compare_digest; one never "
            "seen <= 2.0x",
            f"{warm:.2f}x for a ticket seen before; {cold:.2f}x uncached",
            f"seen before {_verdict(warm <= 1.5)}, uncached {_verdict(cold <= 2.0)}",
        )
    )
    issue = figures[micro.ISSUE]
    issued = issue["aiohttp_guard issue + encode"] / issue["HMAC-SHA256 floor (digest)"]
    rows.append(
        (
            "Ticket issue <= 1.5x one HMAC-SHA256",
            f"{issued:.2f}x",
            _verdict(issued <= 1.5),
        )
    )
    for title, factor in ((micro.ACL_3, 4), (micro.ACL_1000, 50)):
        acl = figures[title]
        ours = acl["aiohttp_guard ACL.permits"]
        new_user = acl["aiohttp_guard ACL.permits, a new user each time"]
        faster = acl["Pyramid ACLHelper.permits"] / ours
        faster_new = acl["Pyramid ACLHelper.permits"] / new_user
        rows.append(
            (
                f"{title}: <= 1 us, >= {factor}x faster than Pyramid",
                f"{ours * 1e6:.2f} us, {faster:.1f}x (a new user each time: "
                f"{new_user * 1e6:.2f} us, {faster_new:.1f}x)",
                f"{_verdict(ours <= 1e-6 and faster >= factor)} "
                f"(new users: {_verdict(new_user <= 1e-6 and faster_new >= factor)})",
            )
        )
    for algorithm in ("RS256", "EdDSA"):
        jwt_valid = results.ratio(f"aiohttp_guard JWT {algorithm} bearer", "valid")
        rows.append(
            (
                f"HTTP, valid {algorithm} provider token: >= 0.80x the cookie ticket's",
                f"{jwt_valid / valid:.2f}x ({jwt_valid:.2f}x bare)",
                _verdict(jwt_valid / valid >= 0.80),
            )
        )
    for algorithm in micro.JWT_ALGORITHMS:
        table = figures[f"JWT verify, {algorithm}"]
        added = (
            table["aiohttp_guard JWTPolicy, uncached"] / table["PyJWT decode (floor)"]
        )
        rows.append(
            (
                f"JWT verify, {algorithm}, a token never seen: <= 1.3x PyJWT's decode",
                f"{added:.2f}x",
                _verdict(added <= 1.3),
            )
        )
    cross = figures[micro.CROSS_ORIGIN]
    unsafe = {name: t for name, t in cross.items() if name.startswith("POST")}
    slowest = max(unsafe, key=unsafe.__getitem__)
    rows.append(
        (
            "Cross-origin check of an unsafe request < 1 us",
            f"{cross['POST, Sec-Fetch-Site same-origin'] * 1e6:.2f} us for a current "
            f"browser's; at most {unsafe[slowest] * 1e6:.2f} us ({slowest})",
            _verdict(unsafe[slowest] < 1e-6),
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a quick check")
    args = parser.parse_args()
    print("## Micro benchmarks")
    figures = micro.run(quick=args.smoke)
    print("\n## In one process, without sockets\n")
    asyncio.run(inprocess.run(quick=args.smoke))
    print("\n## Allocations and garbage collections per request\n")
    requests = 20 if args.smoke else 10_000
    asyncio.run(allocations.run(requests=requests, smoke=args.smoke))
    print("\n## HTTP")
    rounds, seconds = (1, 1) if args.smoke else (3, 5)
    users = http.SMOKE_USERS if args.smoke else http.MANY_USERS
    results = asyncio.run(
        http.benchmark(rounds, seconds, connections=32, many_users=users)
    )
    print("\n## Targets\n")
    print("| target | measured | met |")
    print("| --- | --- | --- |")
    for target, measured, met in targets(figures, results, users):
        print(f"| {target} | {measured} | {met} |")
    sys.exit(1 if results.invalid else 0)


if __name__ == "__main__":
    main()
