"""Typing contract of guards, policies and the service (checked, never run)."""

# A `# type: ignore` that pyright finds nothing to ignore is a failure too.
# pyright: reportUnnecessaryTypeIgnoreComment=error

from __future__ import annotations

from collections.abc import Coroutine, Hashable
from typing import Any, Protocol, assert_type

from aiohttp import web

from aiohttp_guard import (
    Authenticated,
    AuthService,
    CookieTicketPolicy,
    Guard,
    Identity,
    RequestContext,
    TicketCodec,
    get_auth,
    remember,
)
from aiohttp_guard.auth import auth_required

SECRET = b"0123456789abcdef"


@Authenticated()
async def profile(request: web.Request, *, extra: int = 0) -> web.Response:
    return web.Response()


@auth_required
async def legacy(request: web.Request) -> web.Response:
    return web.Response()


@Authenticated()
class ArticleView(web.View):
    guard = Authenticated(fresh_within=60)

    @Authenticated()
    async def post(self) -> web.Response:
        return web.Response()


class ProfileHandler(Protocol):
    def __call__(
        self, request: web.Request, *, extra: int = 0
    ) -> Coroutine[Any, Any, web.Response]: ...


async def uses(request: web.Request) -> None:
    # Decorating keeps the handler's exact signature and return type.
    same_signature: ProfileHandler = profile
    del same_signature
    response = await profile(request, extra=1)
    assert_type(response, web.Response)
    assert_type(await legacy(request), web.Response)
    await profile(request, extra="one")  # type: ignore[arg-type]
    await profile(42)  # type: ignore[arg-type]
    assert_type(ArticleView, type[ArticleView])
    assert_type(await ArticleView(request).post(), web.Response)

    # Awaiting a guard gives what it proved.
    assert_type(await Authenticated()(request), str)
    proof: Guard[str] = Authenticated()
    wrong: Guard[int] = Authenticated()  # type: ignore[assignment]
    Authenticated()(42)  # type: ignore[call-overload]

    # A plain async function is a guard.
    async def header_guard(request: web.Request) -> int:
        return len(request.headers)

    counted: Guard[int] = header_guard
    del proof, wrong, counted

    assert_type(await get_auth(request), str | None)
    assert_type(await AuthService.of(request).identify(request), str | None)
    assert_type(await AuthService.of(request).user_id(request), str | None)
    context = RequestContext.of(request)
    assert_type(await context.identity(), Identity | None)
    assert_type(await context.principals(), frozenset[Hashable] | None)
    assert_type(context.unauthenticated(), web.HTTPException)
    await remember(request, 42)  # type: ignore[arg-type]


def misconfigurations() -> None:
    CookieTicketPolicy(SECRET, 60, samesite="lax")  # type: ignore[arg-type]
    CookieTicketPolicy("not bytes", 60)  # type: ignore[arg-type]
    TicketCodec("not bytes")  # type: ignore[arg-type]
    # An old application's secret: bytes of any length, one or several.
    CookieTicketPolicy(SECRET, 60, accept_legacy=True, legacy_secret=b"old")
    TicketCodec(SECRET, legacy_secret=[b"old", b"older"])
    TicketCodec(SECRET, legacy_secret="old")  # type: ignore[arg-type]
    AuthService(object())  # type: ignore[arg-type]
