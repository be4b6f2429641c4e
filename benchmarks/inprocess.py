"""The HTTP benchmark's apps driven in one process, without sockets: what
each request costs in Python alone, beside what it costs at the socket.

    python -m benchmarks.inprocess

Each app handles fresh requests (clones of one prepared request) through
`Application._handle` (routing, middlewares, guards, the handler), so
transport and load-generator noise drop out. Medians of several rounds, per
request.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import types
from collections.abc import Callable

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from . import http, http_apps

Case = tuple[str, Callable[[], web.Application], dict[str, str], str]


async def handle(app: web.Application, request: web.Request) -> web.StreamResponse:
    """`request` handled by `app` as its server would, without a socket:
    aiohttp's own entry point from its server to the app (middlewares,
    router, handler)."""
    return await app._handle(request)  # pyright: ignore[reportPrivateUsage]


def cases() -> list[Case]:
    ticket = http.signed_ticket("alice")
    cookie = {"Cookie": f"AUTH_TKT={ticket}"}
    # A form posted by the site's own page, as a browser sends it.
    posted = {**cookie, "Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    return [
        ("bare aiohttp", http_apps.bare, {}, "GET"),
        ("aiohttp + an empty middleware", http_apps.with_empty_middleware, {}, "GET"),
        ("aiohttp_guard cookie", lambda: http_apps.guard("cookie"), cookie, "GET"),
        (
            "aiohttp_guard bearer",
            lambda: http_apps.guard("bearer"),
            {"Authorization": f"Bearer {ticket}"},
            "GET",
        ),
        (
            "aiohttp_guard cookie POST, csrf off",
            lambda: http_apps.guard("cookie", csrf=False),
            posted,
            "POST",
        ),
        (
            "aiohttp_guard cookie POST (cross-origin check)",
            lambda: http_apps.guard("cookie"),
            posted,
            "POST",
        ),
    ]


async def per_request(
    app: web.Application,
    headers: dict[str, str],
    method: str = "GET",
    *,
    number: int,
    rounds: int,
) -> list[float]:
    """Seconds per request over `rounds` rounds of `number` fresh requests."""
    app.freeze()
    # Clones of one mocked request: each is new to the library, as on a
    # server, and costs a few microseconds to make (a mocked request, a few
    # hundred). Its writer counts in ints: a Mock's attributes cost tens of
    # microseconds to make on first use.
    template = make_mocked_request(
        method,
        "/protected",
        headers=headers,
        app=app,
        writer=types.SimpleNamespace(output_size=0),
    )
    first = await handle(app, template.clone())
    if first.status != 200:
        raise RuntimeError(f"expected 200, got {first.status}")
    times: list[float] = []
    for _ in range(rounds):
        requests = [template.clone() for _ in range(number)]
        gc.collect()
        started = time.perf_counter()
        for request in requests:
            await handle(app, request)
        times.append((time.perf_counter() - started) / number)
    return times


async def run(*, quick: bool) -> dict[str, float]:
    number, rounds = (500, 2) if quick else (20_000, 7)
    print("| app | per request (min-max) | more than bare |")
    print("| --- | --- | --- |")
    medians: dict[str, float] = {}
    for name, factory, headers, method in cases():
        times = await per_request(
            factory(), headers, method, number=number, rounds=rounds
        )
        median = medians[name] = statistics.median(times)
        extra = median - medians["bare aiohttp"]
        print(
            f"| {name} | {median * 1e6:.2f} us "
            f"({min(times) * 1e6:.2f}-{max(times) * 1e6:.2f}) | {extra * 1e6:+.2f} us |"
        )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    asyncio.run(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
