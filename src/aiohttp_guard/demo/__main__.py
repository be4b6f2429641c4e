"""`python -m aiohttp_guard.demo [--host H] [--port P] [--redis URL]
[--issuer URL] [--audience AUD]`"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from aiohttp import web

from .app import make_app

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aiohttp_guard.demo",
        description="Serve the aiohttp_guard demo site.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="default: 8080")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="keep sessions and revocations in this Redis (redis://host:port/db)",
    )
    parser.add_argument(
        "--issuer",
        metavar="URL",
        help="accept this identity provider's access tokens on /api/notes "
        "(default: those of the demo's stand-in provider, from /api-token)",
    )
    parser.add_argument(
        "--audience",
        default="demo-api",
        help="the audience the provider's tokens name (default: demo-api)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.redis is not None:
        try:
            from .redis_mode import check_redis  # noqa: PLC0415 - only with --redis
        except ModuleNotFoundError:
            sys.exit(
                "aiohttp_guard demo: --redis needs the redis package: "
                "python -m pip install 'aiohttp_guard[redis]'"
            )
        problem = asyncio.run(check_redis(args.redis))
        if problem is not None:
            sys.exit(f"aiohttp_guard demo: {problem}")
    app = make_app(redis_url=args.redis, issuer=args.issuer, audience=args.audience)
    print(f"aiohttp_guard demo on http://{args.host}:{args.port}/", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
