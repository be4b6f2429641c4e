"""`python -m aiohttp_guard routes module:factory`: the routes report of
an app, read without serving it.

The factory is called with no arguments (and awaited when it is async), as
the app would be built at startup; the command prints what each route's
`AuthService` reports, or says in one line, exiting 1, why it cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Iterator

from aiohttp import web

from .checks import check_app
from .service import AuthService, service_on

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m aiohttp_guard",
        description="Tools for apps guarded by aiohttp_guard.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    routes = commands.add_parser(
        "routes",
        help="print every route with what guards it; exit 1 when guarded "
        "routes have no AuthService",
    )
    routes.add_argument(
        "entry",
        metavar="module:factory",
        help="a function returning the web.Application (may be async), "
        "called with no arguments",
    )
    args = parser.parse_args(argv)
    try:
        app = asyncio.run(_build(args.entry))
        check_app(app)
        print("\n".join(_report(app)))
    except (LookupError, RuntimeError, TypeError) as error:
        sys.exit(f"{args.entry}: {error}")


async def _build(entry: str) -> web.Application:
    module_name, _, factory_name = entry.partition(":")
    if not module_name or not factory_name:
        raise LookupError("give the app factory as module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise LookupError(f"cannot import {module_name} ({error})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise LookupError(f"{module_name} has no function {factory_name}")
    app: object = factory()
    if inspect.isawaitable(app):
        app = await app
    if not isinstance(app, web.Application):
        raise TypeError(f"returned {type(app).__name__}, not a web.Application")
    return app


def _report(app: web.Application) -> Iterator[str]:
    """Each service's report: the outermost one covers every route; one of
    a sub-application also guards the routes below it."""
    services = list(_services(app, ""))
    if not services:
        raise RuntimeError(
            "no AuthService is set up on this application: "
            "call AuthService(policy).setup(app)"
        )
    for prefix, mounted, service in services:
        if len(services) > 1:
            yield f"{service!r} on {prefix or '/'}:"
        yield from map(str, service.routes_report(mounted))


def _services(
    app: web.Application, prefix: str
) -> Iterator[tuple[str, web.Application, AuthService]]:
    service = service_on(app)
    if service is not None:
        yield prefix, app, service
    for resource in app.router.resources():
        sub = resource.get_info().get("app")
        if isinstance(sub, web.Application):
            yield from _services(sub, prefix + resource.canonical)


if __name__ == "__main__":
    main()
