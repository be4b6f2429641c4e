"""Mistakes in setting the library up are refused where they are made,
not answered with a 500 on every request."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    ACL,
    Allow,
    Authenticated,
    AuthService,
    ConfigurationWarning,
    CookieTicketPolicy,
    EntryTuple,
    Everyone,
    Requires,
    SessionTicketPolicy,
    User,
    auth,
)

from .apps import login, make_app
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


def test_samesite_none_with_secure_left_to_the_request_is_refused() -> None:
    # Over plain HTTP the cookie would go out without Secure, and browsers
    # drop SameSite=None cookies that are not Secure.
    with pytest.raises(ValueError, match="needs secure=True"):
        CookieTicketPolicy(SECRET, 60, samesite="None")
    policy = CookieTicketPolicy(SECRET, 60, samesite="None", secure=True)
    assert policy.secure is True


async def test_samesite_none_cookies_are_always_secure(
    aiohttp_client: AiohttpClient,
) -> None:
    policy = CookieTicketPolicy(SECRET, 60, samesite="None", secure=True)
    client = await aiohttp_client(make_app(policy))
    response = await client.get("/login", params={"user": "alice"})  # plain HTTP
    cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie
    assert "Secure" in cookie


@pytest.mark.parametrize(
    "policy",
    [
        lambda: CookieTicketPolicy(SECRET, 60, reissue_time=60),
        lambda: SessionTicketPolicy(SECRET, 60, reissue_time=600),
        lambda: auth.CookieTktAuthentication(SECRET, 60, reissue_time=90),
    ],
)
def test_a_reissue_on_every_response_warns_at_the_callers_line(
    policy: Callable[[], object],
) -> None:
    with pytest.warns(ConfigurationWarning, match="every successful response") as seen:
        policy()
    assert len(seen) == 1
    assert seen[0].filename == __file__


def test_a_reissue_time_shorter_than_max_age_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CookieTicketPolicy(SECRET, 60, reissue_time=59, max_lifetime=60)


async def test_a_reissue_time_as_long_as_max_age_renews_on_every_response(
    aiohttp_client: AiohttpClient,
) -> None:
    # It warns, but works: what aiohttp_auth applications relied on.
    with pytest.warns(ConfigurationWarning):
        # Longer than max_age: a ticket checked in the millisecond it was
        # issued has exactly max_age left, and still renews.
        policy = CookieTicketPolicy(SECRET, 60, reissue_time=61)
    client = await aiohttp_client(make_app(policy))
    await client.get("/login", params={"user": "alice"})
    response = await client.get("/whoami")
    assert await response.text() == "alice"
    assert "AUTH_TKT" in response.cookies


def test_a_max_lifetime_shorter_than_max_age_warns() -> None:
    with pytest.warns(ConfigurationWarning, match="cookie outlives it") as seen:
        CookieTicketPolicy(SECRET, 3600, max_lifetime=600)
    assert seen[0].filename == __file__


def group_acl_app(groups: object = None) -> web.Application:
    acl = [(Allow, "editors", "edit"), (Allow, Everyone, "view")]

    async def page_acl(request: web.Request) -> list[EntryTuple[str]]:
        return [(Allow, User("bob"), "edit"), (Allow, "group:admins", "edit")]

    app = web.Application()
    AuthService(CookieTicketPolicy(SECRET, 60), groups=groups).setup(app)  # type: ignore[arg-type]

    @Requires("edit", acl)
    async def edit(request: web.Request) -> web.Response:
        return web.Response(text="edited")

    @Requires("edit", page_acl)
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page edited")

    app.add_routes(
        [web.get("/login", login), web.get("/edit", edit), web.get("/page", page)]
    )
    return app


async def test_a_group_entry_without_a_group_resolver_is_warned_of_once(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(group_acl_app())
    await client.get("/login", params={"user": "alice"})
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        for _ in range(3):
            assert (await client.get("/edit")).status == 403
            assert (await client.get("/page")).status == 403
    warned = [m for r in caplog.records if "group resolver" in (m := r.getMessage())]
    assert len(warned) == 1
    assert "entry 0 ACE(Allow, 'editors', {'edit'})" in warned[0]


async def test_a_callable_context_is_checked_for_group_entries_too(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(group_acl_app())
    await client.get("/login", params={"user": "alice"})
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        assert (await client.get("/page")).status == 403
    assert "entry 1 ACE(Allow, 'group:admins', {'edit'})" in caplog.text


async def test_no_warning_with_a_group_resolver_or_without_group_entries(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    def editors(user_id: str | None) -> tuple[str, ...]:
        return ("editors",)

    client = await aiohttp_client(group_acl_app(groups=editors))
    await client.get("/login", params={"user": "alice"})
    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        assert await (await client.get("/edit")).text() == "edited"
        await client.get("/page")
    assert "group resolver" not in caplog.text
    assert (
        ACL([(Allow, User("bob"), "edit"), (Allow, Everyone, "view")]).group_entry
        is None
    )
