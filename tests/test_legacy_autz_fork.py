"""Applications written for aiohttp_auth_autz, the fork of aiohttp_auth, run
unchanged but for the package name: `auth.setup(app, policy)` and
`acl.setup(app, groups_callback)`, with the fork's groups (no bare user id)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable

import aiohttp_session
import pytest
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import AuthService, acl, auth
from aiohttp_guard.permissions import Group, Permission

SECRET = b"0123456789abcdef0123456789abcdef"
GROUPS: dict[str, tuple[str, ...] | None] = {
    "user": (),
    "super_user": ("edit_group",),
    "edit_group": (),  # a user named like a group
    "blocked": None,
}
CONTEXT = [
    (Permission.Allow, Group.Everyone, ("view",)),
    (Permission.Allow, Group.AuthenticatedUser, ("view", "view_extra")),
    (Permission.Allow, "edit_group", ("view", "view_extra", "edit")),
]

Callback = Callable[[str | None], Awaitable[Iterable[Hashable] | None]]


async def groups_callback(user_id: str | None) -> Iterable[Hashable] | None:
    return GROUPS.get(user_id, ()) if user_id is not None else ()


class GroupsCallback:
    """The fork's `AbstractACLGroupsCallback` style: an object, called."""

    def __call__(self, user_id: str | None) -> Awaitable[Iterable[Hashable] | None]:
        return groups_callback(user_id)


async def login(request: web.Request) -> web.Response:
    await auth.remember(request, request.query["user"])
    return web.Response(text="logged in")


async def logout(request: web.Request) -> web.Response:
    await auth.forget(request)
    return web.Response(text="logged out")


async def whoami(request: web.Request) -> web.Response:
    return web.Response(text=str(await auth.get_auth(request)))


@auth.auth_required
async def private(request: web.Request) -> web.Response:
    return web.Response(text="private")


@acl.acl_required("edit", CONTEXT)
async def edit(request: web.Request) -> web.Response:
    return web.Response(text="edited")


async def permitted(request: web.Request) -> web.Response:
    allowed = await acl.get_permitted(request, request.query["permission"], CONTEXT)
    return web.Response(text=str(allowed))


async def groups(request: web.Request) -> web.Response:
    found = await acl.get_user_groups(request)
    names = "None" if found is None else ",".join(sorted(map(str, found)))
    return web.Response(text=names)


def fork_app(
    *, acl_first: bool = False, callback: Callback = groups_callback
) -> web.Application:
    """The fork's way: each piece set up on the app, sessions first."""
    app = web.Application()
    aiohttp_session.setup(app, EncryptedCookieStorage(SECRET))
    policy = auth.SessionTktAuthentication(SECRET, 60, cookie_name="auth")
    if acl_first:
        acl.setup(app, callback)
        auth.setup(app, policy)
    else:
        auth.setup(app, policy)
        acl.setup(app, callback)
    app.add_routes(
        [
            web.get("/login", login),
            web.get("/logout", logout),
            web.get("/whoami", whoami),
            web.get("/private", private),
            web.get("/edit", edit),
            web.get("/permitted", permitted),
            web.get("/groups", groups),
        ]
    )
    return app


@pytest.mark.parametrize(
    "app",
    [
        fork_app,
        lambda: fork_app(acl_first=True),
        lambda: fork_app(callback=GroupsCallback()),
    ],
    ids=["auth-then-acl", "acl-then-auth", "callback-object"],
)
async def test_a_fork_app_logs_in_and_checks_permissions(
    aiohttp_client: AiohttpClient, app: Callable[[], web.Application]
) -> None:
    client = await aiohttp_client(app())

    async def get(path: str, **params: str) -> tuple[int, str]:
        response = await client.get(path, params=params)
        return response.status, await response.text()

    assert await get("/whoami") == (200, "None")
    assert (await get("/private"))[0] == 403
    assert (await get("/edit"))[0] == 403
    assert await get("/permitted", permission="view") == (200, "True")
    assert await get("/permitted", permission="view_extra") == (200, "False")

    assert await get("/login", user="user") == (200, "logged in")
    assert await get("/whoami") == (200, "user")
    assert await get("/private") == (200, "private")
    assert (await get("/edit"))[0] == 403
    assert await get("/permitted", permission="view_extra") == (200, "True")

    await get("/login", user="super_user")
    assert await get("/edit") == (200, "edited")
    assert await get("/groups") == (
        200,
        ",".join(
            sorted(map(str, [Group.AuthenticatedUser, Group.Everyone, "edit_group"]))
        ),
    )

    await get("/logout")
    assert await get("/whoami") == (200, "None")
    assert (await get("/edit"))[0] == 403


async def test_a_user_named_like_a_group_does_not_get_its_permissions(
    aiohttp_client: AiohttpClient,
) -> None:
    """The fork took the bare user id out of the groups; so does `acl.setup`."""
    client = await aiohttp_client(fork_app())
    await client.get("/login", params={"user": "edit_group"})
    assert (await client.get("/edit")).status == 403
    groups = await (await client.get("/groups")).text()
    assert "edit_group" not in groups.split(",")
    assert str(Group.AuthenticatedUser) in groups.split(",")


async def test_a_callback_answering_none_denies_everything(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(fork_app())
    await client.get("/login", params={"user": "blocked"})
    assert await (await client.get("/groups")).text() == "None"
    permitted = await client.get("/permitted", params={"permission": "view"})
    assert await permitted.text() == "False"
    assert (await client.get("/private")).status == 200  # logged in all the same


def test_auth_setup_installs_a_service() -> None:
    app = fork_app()
    service = AuthService.of(app)
    assert isinstance(service.policy, auth.SessionTktAuthentication)
    with pytest.raises(RuntimeError, match="already has an AuthService"):
        auth.setup(app, auth.CookieTktAuthentication(SECRET, 60))


async def test_a_cookie_policy_set_up_the_forks_way(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application()
    auth.setup(app, auth.CookieTktAuthentication(SECRET, 60, include_ip=True))
    acl.setup(app, groups_callback)
    app.add_routes([web.get("/login", login), web.get("/edit", edit)])
    client = await aiohttp_client(app)
    assert (await client.get("/edit")).status == 403
    await client.get("/login", params={"user": "super_user"})
    assert await (await client.get("/edit")).text() == "edited"
