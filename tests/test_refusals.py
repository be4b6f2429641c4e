"""How refusals leave the service's middleware: as plain responses, saying
everything the error handler's exception says, and leaving no garbage behind."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    ACL,
    Allow,
    Authenticated,
    AuthService,
    DefaultErrorHandler,
    Requires,
)

from .apps import HeaderPolicy

EDITORS: ACL[str] = ACL([(Allow, "editors", "edit")])


class Recorder(DefaultErrorHandler):
    """The default answers, each also set a cookie and remembered weakly."""

    made: list[weakref.ref[web.HTTPException]]

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "made", [])

    def _keep(self, exc: web.HTTPException) -> web.HTTPException:
        exc.set_cookie("refused", "yes", max_age=60)
        self.made.append(weakref.ref(exc))
        return exc

    def unauthenticated(
        self, request: web.Request, challenge: str | None
    ) -> web.HTTPException:
        return self._keep(super().unauthenticated(request, challenge))

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        return self._keep(super().forbidden(request, reason))


Seen = list[tuple[str, int]]


def app_seen_from_outside(errors: Recorder, seen: Seen) -> web.Application:
    """An app whose own (outer) middleware notes whether each answer came back
    as a response or as a raised exception."""

    @web.middleware
    async def outer(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            seen.append(("raised", exc.status))
            raise
        seen.append(("returned", response.status))
        return response

    app = web.Application(middlewares=[outer])
    AuthService(HeaderPolicy(), groups=groups, error_handler=errors).setup(app)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/edit")

    either = Requires("edit", EDITORS) | Authenticated(fresh_within=1)
    app.add_routes(
        [
            web.get("/edit", Requires("edit", EDITORS)(ok)),
            web.get("/either", either(ok)),
            web.get("/moved", moved),
        ]
    )
    return app


async def groups(user_id: str | None) -> tuple[str, ...]:
    return ("editors",) if user_id == "alice" else ()


@pytest.fixture
def no_collector() -> Iterator[None]:
    """Objects are freed by reference counting alone while this is active."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize(
    ("path", "user", "status"),
    [
        ("/edit", None, 401),
        ("/edit", "bob", 403),
        ("/either", None, 401),  # AnyOf: two refusals, the first one answers
        ("/either", "bob", 403),
    ],
)
async def test_a_refusal_is_returned_whole_and_leaves_no_garbage(
    aiohttp_client: AiohttpClient, path: str, user: str | None, status: int
) -> None:
    errors, seen = Recorder(), Seen()
    client = await aiohttp_client(app_seen_from_outside(errors, seen))
    headers = {"Accept": "application/json"} | ({"X-User": user} if user else {})

    response = await client.get(path, headers=headers)

    assert response.status == status
    assert response.content_type == "application/problem+json"
    assert (await response.json(content_type=None))["status"] == status
    assert response.cookies["refused"].value == "yes"
    assert seen == [("returned", status)]
    assert errors.made, "the error handler was asked"
    # Without the garbage collector, the refusals are already gone: nothing
    # holds them in a reference cycle.
    assert [ref() for ref in errors.made] == [None] * len(errors.made)


async def test_a_permitted_request_and_a_handlers_own_exceptions_are_untouched(
    aiohttp_client: AiohttpClient,
) -> None:
    errors, seen = Recorder(), Seen()
    client = await aiohttp_client(app_seen_from_outside(errors, seen))

    allowed = await client.get("/edit", headers={"X-User": "alice"})
    redirect = await client.get("/moved", allow_redirects=False)

    assert allowed.status == 200
    assert redirect.status == 302
    assert seen == [("returned", 200), ("raised", 302)]
    assert errors.made == []
