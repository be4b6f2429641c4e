"""The aiohttp_auth documentation's ACL examples, unchanged."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import AuthService, Everyone, acl, auth
from aiohttp_guard.permissions import Group, Permission

from . import seed_acl_examples as seed
from .apps import HeaderPolicy

PAGES = ("/view", "/view_extra", "/edit")

# The seed module is unannotated, as the old documentation wrote it: these
# are its names as this module uses them.
CONTEXT = cast("Sequence[Any]", seed.context)  # pyright: ignore[reportUnknownMemberType]
MODIFIED_CONTEXT = cast("Sequence[Any]", seed.modified_context)  # pyright: ignore[reportUnknownMemberType]
seed_init = cast("Callable[[object], web.Application]", seed.init)  # pyright: ignore[reportUnknownMemberType]


async def visible_pages(client: Any) -> set[str]:
    return {page for page in PAGES if (await client.get(page)).status == 200}


async def log_in(client: Any, user: str) -> None:
    response = await client.post(
        "/login", data={"username": user, "password": seed.db[user]}
    )
    assert response.status == 200


@pytest.mark.parametrize(
    ("context", "user", "pages"),
    [
        (CONTEXT, None, {"/view"}),
        (CONTEXT, "user", {"/view", "/view_extra"}),
        (CONTEXT, "super_user", {"/view", "/view_extra", "/edit"}),
        (MODIFIED_CONTEXT, None, {"/view"}),
        (MODIFIED_CONTEXT, "user", {"/view", "/view_extra"}),
        (MODIFIED_CONTEXT, "super_user", {"/view", "/edit"}),
    ],
    ids=lambda value: repr(value) if not isinstance(value, list) else "ctx",
)
async def test_documented_access(
    aiohttp_client: AiohttpClient,
    context: Sequence[Any],
    user: str | None,
    pages: set[str],
) -> None:
    client = await aiohttp_client(seed_init(context))
    if user is not None:
        await log_in(client, user)
    assert await visible_pages(client) == pages
    refused = await client.get("/edit")
    assert refused.status == (200 if "/edit" in pages else 403)


async def test_zero_argument_callable_contexts(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(seed_init(lambda: MODIFIED_CONTEXT))
    await log_in(client, "super_user")
    assert await visible_pages(client) == {"/view", "/edit"}


async def test_get_user_groups_and_get_permitted(aiohttp_client: AiohttpClient) -> None:
    async def groups_view(request: web.Request) -> web.Response:
        groups = await acl.get_user_groups(request)
        permitted = await acl.get_permitted(request, "edit", CONTEXT)
        return web.json_response(
            {"groups": sorted(map(repr, groups or ())), "edit": permitted}
        )

    app = seed_init(CONTEXT)
    app.router.add_get("/groups", groups_view)
    client = await aiohttp_client(app)
    assert await (await client.get("/groups")).json() == {
        "groups": ["Everyone"],
        "edit": False,
    }
    await log_in(client, "super_user")
    assert await (await client.get("/groups")).json() == {
        "groups": ["'edit_group'", "'super_user'", "AuthenticatedUser", "Everyone"],
        "edit": True,
    }


async def test_groups_follow_a_login_and_a_logout_in_the_same_request(
    aiohttp_client: AiohttpClient,
) -> None:
    calls: list[str | None] = []

    async def callback(user_id: str | None) -> tuple[str, ...]:
        calls.append(user_id)
        return ("edit_group",) if user_id == "super_user" else ()

    async def login_and_out(request: web.Request) -> web.Response:
        seen = [await acl.get_user_groups(request)]
        seen.append(await acl.get_user_groups(request))  # kept: same user
        await auth.remember(request, "super_user")
        seen.append(await acl.get_user_groups(request))
        await auth.forget(request)
        seen.append(await acl.get_user_groups(request))
        return web.json_response([sorted(map(repr, g or ())) for g in seen])

    app = seed_init(CONTEXT)
    app.middlewares[-1] = acl.acl_middleware(callback)
    app.router.add_get("/login-and-out", login_and_out)
    client = await aiohttp_client(app)
    anonymous = ["Everyone"]
    assert await (await client.get("/login-and-out")).json() == [
        anonymous,
        anonymous,
        ["'edit_group'", "'super_user'", "AuthenticatedUser", "Everyone"],
        anonymous,
    ]
    assert calls == [None, "super_user", None]


async def test_a_callback_returning_none_forbids_everything(
    aiohttp_client: AiohttpClient,
) -> None:
    async def callback(user_id: str | None) -> tuple[Hashable, ...] | None:
        return None if user_id == "blocked" else ()

    @acl.acl_required("view", [(Permission.Allow, Group.Everyone, "view")])
    async def view(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(
        middlewares=[auth.auth_middleware(HeaderPolicy()), acl.acl_middleware(callback)]
    )
    app.router.add_get("/", view)
    client = await aiohttp_client(app)
    assert (await client.get("/")).status == 200
    assert (await client.get("/", headers={"X-User": "someone"})).status == 200
    assert (await client.get("/", headers={"X-User": "blocked"})).status == 403


async def test_old_api_over_a_new_service_uses_its_resolver(
    aiohttp_client: AiohttpClient,
) -> None:
    def groups(user_id: str | None) -> tuple[str, ...]:
        return ("staff",) if user_id == "sam" else ()

    @acl.acl_required("manage", [(Permission.Allow, "staff", "manage")])
    async def manage(request: web.Request) -> web.Response:
        return web.Response(text=str(await acl.get_user_groups(request) is not None))

    app = web.Application()
    AuthService(HeaderPolicy(), groups=groups).setup(app)
    app.router.add_get("/manage", manage)
    client = await aiohttp_client(app)
    assert (await client.get("/manage")).status == 403
    assert (await client.get("/manage", headers={"X-User": "sam"})).status == 200


async def test_group_callback_returning_a_string_is_an_error(
    aiohttp_client: AiohttpClient,
) -> None:
    async def view(request: web.Request) -> web.Response:
        with pytest.raises(TypeError, match="tuple of groups"):
            await acl.get_user_groups(request)
        return web.Response(text="checked")

    app = web.Application(
        middlewares=[
            auth.auth_middleware(HeaderPolicy()),
            acl.acl_middleware(lambda _: "admin"),
        ]
    )
    app.router.add_get("/", view)
    client = await aiohttp_client(app)
    assert await (await client.get("/")).text() == "checked"


def test_legacy_guard_repr() -> None:
    guard = acl.acl_required("view", [(Permission.Allow, Everyone, "view")])
    assert repr(guard) == "acl_required('view', ...)"
