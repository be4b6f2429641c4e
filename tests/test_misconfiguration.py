"""Mistakes in setting the library up are refused where they are made,
not answered with a 500 on every request."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import Authenticated, AuthService, CookieTicketPolicy

from .apps import login
from .conftest import SECRET


def test_a_guard_refuses_a_plain_function_handler() -> None:
    def handler(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    with pytest.raises(TypeError, match=r"handler is a plain function.*async def"):
        Authenticated()(handler)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def test_a_guard_refuses_a_plain_view_method() -> None:
    with pytest.raises(TypeError, match=r"Page\.get is a plain function"):

        class Page(web.View):  # pyright: ignore[reportUnusedClass]
            @Authenticated()  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
            def get(self) -> web.Response:
                return web.Response(text="secret")


def logged(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A decorator of the kind apps write: a `def` wrapper of an async handler."""

    @functools.wraps(handler)
    def wrapper(request: web.Request) -> Awaitable[web.StreamResponse]:
        return handler(request)

    return wrapper


class CallableHandler:
    async def __call__(self, request: web.Request) -> web.Response:
        return web.Response(text="object")


async def test_async_handlers_in_every_form_are_still_guarded(
    aiohttp_client: AiohttpClient,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="wrapped")

    # Typed as returning an Awaitable, which the guard's overloads do not
    # take: a plain function only at run time.
    wrapper: Any = logged(handler)
    wrapped: Any = Authenticated()(wrapper)  # pyright: ignore[reportUnknownVariableType]

    guarded_object: Any = Authenticated()(CallableHandler())
    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 3600)).setup(app)
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/wrapped", cast("Handler", wrapped)),
            web.get("/object", guarded_object),
        ]
    )
    client = await aiohttp_client(app)
    for path in ("/wrapped", "/object"):
        assert (await client.get(path)).status == 401
    await client.get("/login", params={"user": "alice"})
    for path, text in (("/wrapped", "wrapped"), ("/object", "object")):
        response = await client.get(path)
        assert (response.status, await response.text()) == (200, text)
