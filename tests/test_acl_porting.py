"""ACL entries that would match nothing are refused when they are made.

A "deny all" that denies nothing lets everything through, so an entry with no
permissions is an error, not a warning. The usual way to write one by
accident is to port a Pyramid ACL: Pyramid's `ALL_PERMISSIONS` iterates as
empty, and its `Allow`, `Deny`, `Everyone` and `Authenticated` are strings
that mean nothing here. Such entries are refused with the names to use.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable, Hashable, Iterable
from typing import Any, ClassVar

import pyramid.authorization as pyramid_acl
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    ACE,
    ACL,
    ALL_PERMISSIONS,
    Allow,
    AuthenticatedUser,
    Deny,
    Everyone,
    acl,
    auth,
)
from aiohttp_guard.permissions import Group, Permission

from .apps import HeaderPolicy

EMPTY: list[Callable[[], Iterable[Any]]] = [
    tuple,
    list,
    set,
    frozenset,
    dict,
    lambda: iter(()),
    lambda: (p for p in ("view",) if p != "view"),
]


@pytest.mark.parametrize("empty", EMPTY)
def test_an_entry_without_permissions_is_an_error_naming_it(
    empty: Callable[[], Iterable[Any]],
) -> None:
    with pytest.raises(ValueError, match=r"^ACL entry 1: .*permissions are empty"):
        ACL([(Allow, "editors", "edit"), (Deny, Everyone, empty())])
    with pytest.raises(ValueError, match="permissions are empty"):
        ACE(Deny, Everyone, empty())


@pytest.mark.parametrize("nothing", [None, ""])
def test_none_or_an_empty_string_as_permissions_is_an_error(nothing: object) -> None:
    """`(Deny, Everyone, None)` reads as "deny everything" but would deny only
    a permission nobody asks for."""
    with pytest.raises(ValueError, match=r"^ACL entry 0: .*names no permission"):
        ACL([(Deny, Everyone, nothing)])
    with pytest.raises(ValueError, match="names no permission"):
        ACE(Deny, Everyone, nothing)


def test_an_empty_entry_is_refused_before_any_warning() -> None:
    # Not a warning that a `filterwarnings` setting may silence.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="ACL entry 0"):
            ACL([(Deny, Everyone, ())])


def test_the_unreachable_entry_warning_still_works() -> None:
    with pytest.warns(UserWarning, match="ACL entry 1 .* earlier entries for 'g'"):
        ACL([(Deny, "g", ALL_PERMISSIONS), (Allow, "g", "view")])
    with pytest.warns(UserWarning, match="ACL entry 2 .* earlier entries for 'g'"):
        ACL([(Allow, "g", "a"), (Deny, "g", "b"), (Allow, "g", {"a", "b"})])


def test_all_permissions_among_others_means_every_permission() -> None:
    # Unlike in Pyramid, where ("edit", ALL_PERMISSIONS) is just "edit".
    # The type checkers refuse it: typed code writes ALL_PERMISSIONS alone.
    acl_: ACL[str] = ACL([(Allow, "g", ("edit", ALL_PERMISSIONS))])  # type: ignore[list-item]
    assert acl_.entries[0].permissions is ALL_PERMISSIONS
    assert acl_.permits({"g"}, "delete")


WITH_OURS = re.escape(
    "(aiohttp_guard.Deny, aiohttp_guard.Everyone, aiohttp_guard.ALL_PERMISSIONS)"
)


def test_pyramids_deny_all_is_refused_naming_ours() -> None:
    assert pyramid_acl.DENY_ALL == (
        "Deny",
        "system.Everyone",
        pyramid_acl.ALL_PERMISSIONS,
    )
    entries: list[Any] = [(Allow, "editors", "edit"), pyramid_acl.DENY_ALL]
    with pytest.raises(TypeError, match=r"^ACL entry 1: .*" + WITH_OURS):
        ACL(entries)
    with pytest.raises(TypeError, match=WITH_OURS):
        ACE(*pyramid_acl.DENY_ALL)  # type: ignore[arg-type]


def pyramid_security_all_permissions() -> object:
    """`pyramid.security.ALL_PERMISSIONS`, Pyramid 1's name (deprecated in 2),
    of the base class of `pyramid.authorization`'s."""
    security = importlib.import_module("pyramid.security")
    with pytest.warns(DeprecationWarning, match="ALL_PERMISSIONS"):
        value: object = security.ALL_PERMISSIONS
    return value


@pytest.mark.parametrize(
    "all_permissions",
    [pyramid_acl.ALL_PERMISSIONS, pyramid_security_all_permissions],
    ids=["pyramid.authorization", "pyramid.security"],
)
def test_pyramids_all_permissions_is_refused_naming_ours(all_permissions: Any) -> None:
    if callable(all_permissions):
        all_permissions = all_permissions()
    assert list(all_permissions) == []  # why it would match nothing here
    with pytest.raises(ValueError, match=r"^ACL entry 0: .*aiohttp_guard\.ALL_PERM"):
        ACL([(Deny, Everyone, all_permissions)])
    with pytest.raises(ValueError, match=r"aiohttp_guard\.ALL_PERMISSIONS"):
        ACE(Allow, "admins", all_permissions)
    mixed: tuple[Any, ...] = ("edit", all_permissions)
    with pytest.raises(ValueError, match=r"aiohttp_guard\.ALL_PERMISSIONS"):
        ACE(Allow, "admins", mixed)


@pytest.mark.parametrize(
    ("principal", "ours"),
    [
        (pyramid_acl.Everyone, "aiohttp_guard.Everyone"),
        (pyramid_acl.Authenticated, "aiohttp_guard.AuthenticatedUser"),
    ],
)
def test_pyramids_built_in_principals_are_refused_naming_ours(
    principal: str, ours: str
) -> None:
    with pytest.raises(ValueError, match=rf"^ACL entry 0: .*\(Deny, {ours}, "):
        ACL([(Deny, principal, ALL_PERMISSIONS)])
    # Groups of other names, dotted or not, are the application's own.
    ACL([(Deny, "system.everyone", ALL_PERMISSIONS), (Allow, "system", "view")])


@pytest.mark.parametrize("action", [pyramid_acl.Allow, pyramid_acl.Deny])
def test_pyramids_actions_are_refused_naming_ours(action: str) -> None:
    with pytest.raises(TypeError, match=rf"write \(aiohttp_guard\.{action}, 'g', "):
        ACE(action, "g", "view")  # type: ignore[arg-type]


def test_a_ported_deny_all_denies_what_pyramids_denies() -> None:
    class Resource:
        __acl__: ClassVar = [
            (pyramid_acl.Allow, "editors", "edit"),
            pyramid_acl.DENY_ALL,
        ]

    ported: ACL[str] = ACL(
        [(Allow, "editors", "edit"), (Deny, Everyone, ALL_PERMISSIONS)]
    )
    helper = pyramid_acl.ACLHelper()
    questions: list[tuple[list[str], set[Hashable], str]] = [
        (["editors", pyramid_acl.Everyone], {"editors", Everyone}, "edit"),
        (["editors", pyramid_acl.Everyone], {"editors", Everyone}, "delete"),
        (
            [pyramid_acl.Everyone, pyramid_acl.Authenticated],
            {Everyone, AuthenticatedUser},
            "edit",
        ),
    ]
    for principals, ours, permission in questions:
        assert bool(helper.permits(Resource(), principals, permission)) == bool(
            ported.permits(ours, permission)
        )


# -- the aiohttp_auth `acl` functions build the same ACLs ---------------------


def test_acl_required_refuses_an_empty_entry_when_it_is_applied() -> None:
    with pytest.raises(ValueError, match=r"ACL entry 1: .*permissions are empty"):
        acl.acl_required(
            "edit",
            [
                (Permission.Allow, "edit_group", "edit"),
                (Permission.Deny, Group.Everyone, ()),
            ],
        )
    with pytest.raises(TypeError, match=WITH_OURS):
        acl.acl_required("edit", [pyramid_acl.DENY_ALL])


def legacy_app(context: object) -> web.Application:
    """An aiohttp_auth-style app whose context comes from a callable."""

    async def callback(user_id: str | None) -> tuple[Hashable, ...]:
        return ("edit_group",) if user_id == "editor" else ()

    @acl.acl_required("edit", lambda: context)  # type: ignore[arg-type, return-value]
    async def edit(request: web.Request) -> web.Response:
        return web.Response(text="edited")

    async def permitted(request: web.Request) -> web.Response:
        try:
            answer = await acl.get_permitted(request, "edit", context)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            return web.Response(text=f"refused: {exc}")
        return web.Response(text=str(answer))

    app = web.Application(
        middlewares=[auth.auth_middleware(HeaderPolicy()), acl.acl_middleware(callback)]
    )
    app.router.add_get("/edit", edit)
    app.router.add_get("/permitted", permitted)
    return app


ENTRIES_THAT_MATCH_NOTHING: list[tuple[tuple[object, ...], str]] = [
    ((Permission.Deny, Group.Everyone, []), "ACL entry 0: .*permissions are empty"),
    (pyramid_acl.DENY_ALL, f"ACL entry 0: .*{WITH_OURS}"),
    (
        (Permission.Deny, Group.Everyone, pyramid_acl.ALL_PERMISSIONS),
        r"ACL entry 0: .*aiohttp_guard\.ALL_PERMISSIONS",
    ),
]


@pytest.mark.parametrize(
    ("entry", "message"),
    ENTRIES_THAT_MATCH_NOTHING,
    ids=["empty", "DENY_ALL", "ALL_PERMISSIONS"],
)
async def test_the_acl_functions_refuse_entries_that_match_nothing(
    aiohttp_client: AiohttpClient, entry: tuple[object, ...], message: str
) -> None:
    # A "deny all" that denied nothing would let the editor through.
    client = await aiohttp_client(
        legacy_app([entry, (Permission.Allow, "edit_group", "edit")])
    )
    editor = {"X-User": "editor"}
    response = await client.get("/permitted", headers=editor)
    assert response.status == 200
    text = await response.text()
    assert text.startswith("refused: ")
    assert re.search(message, text), text
    assert (await client.get("/edit", headers=editor)).status == 500


async def test_the_acl_functions_with_our_deny_all(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(
        legacy_app(
            [
                (Permission.Deny, Group.Everyone, ALL_PERMISSIONS),
                (Permission.Allow, "edit_group", "edit"),
            ]
        )
    )
    editor = {"X-User": "editor"}
    assert await (await client.get("/permitted", headers=editor)).text() == "False"
    assert (await client.get("/edit", headers=editor)).status == 403
