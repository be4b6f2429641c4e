# mypy: allow-untyped-defs, allow-untyped-calls
# pyright: basic
"""The ACL examples of the aiohttp_auth 0.1.1 documentation (../shared/seed/),
as written there but for the import path, with the page's typos mended as its
NOTES.md says. Left unannotated on purpose: old code must keep working."""

from os import urandom

from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from aiohttp_guard import acl, auth
from aiohttp_guard.permissions import Group, Permission

from .seed_auth_examples import db, login_view

group_map = {"user": (), "super_user": ("edit_group",)}


async def acl_group_callback(user_id):
    # The user_id could be None if the user is not authenticated, but in
    # our example, we allow unauthenticated users access to some things, so
    # we return an empty tuple.
    return group_map.get(user_id, tuple())  # noqa: C408 - as documented


context = [
    (Permission.Allow, Group.Everyone, ("view",)),
    (Permission.Allow, Group.AuthenticatedUser, ("view", "view_extra")),
    (Permission.Allow, "edit_group", ("view", "view_extra", "edit")),
]

modified_context = [
    (Permission.Allow, Group.Everyone, ("view",)),
    (Permission.Deny, "super_user", ("view_extra")),
    (Permission.Allow, Group.AuthenticatedUser, ("view", "view_extra")),
    (Permission.Allow, "edit_group", ("view", "view_extra", "edit")),
]


def views(context):
    @acl.acl_required("view", context)
    async def view_view(request):
        return web.Response(body="OK".encode("utf-8"))  # noqa: UP012 - as documented

    @acl.acl_required("view_extra", context)
    async def view_extra_view(request):
        return web.Response(body="OK".encode("utf-8"))  # noqa: UP012

    @acl.acl_required("edit", context)
    async def edit_view(request):
        return web.Response(body="OK".encode("utf-8"))  # noqa: UP012

    return view_view, view_extra_view, edit_view


def init(context) -> web.Application:  # type: ignore[no-untyped-def]
    policy = auth.SessionTktAuthentication(urandom(32), 60, include_ip=True)

    middlewares = [
        session_middleware(EncryptedCookieStorage(urandom(32))),
        auth.auth_middleware(policy),
        acl.acl_middleware(acl_group_callback),
    ]

    app = web.Application(middlewares=middlewares)
    view_view, view_extra_view, edit_view = views(context)
    app.router.add_route("POST", "/login", login_view)
    app.router.add_route("GET", "/view", view_view)
    app.router.add_route("GET", "/view_extra", view_extra_view)
    app.router.add_route("GET", "/edit", edit_view)
    return app


__all__ = ["db", "init"]
