"""Typing contract of ACLs and Requires (checked by mypy, never run)."""

# A `# type: ignore` that pyright finds nothing to ignore is a failure too.
# pyright: reportUnnecessaryTypeIgnoreComment=error

from __future__ import annotations

import enum
from typing import Any, Literal, assert_type

import pyramid.authorization
from aiohttp import web

from aiohttp_guard import (
    ACE,
    ACL,
    ALL_PERMISSIONS,
    AllOf,
    Allow,
    AnyOf,
    Authenticated,
    AuthenticatedUser,
    AuthService,
    Decision,
    Deny,
    EntryTuple,
    Everyone,
    Public,
    Requires,
    User,
)

Perm = Literal["view", "view_extra", "edit"]


class Action(enum.Enum):
    READ = "read"
    WRITE = "write"


literal_acl: ACL[Perm] = ACL(
    [
        (Allow, Everyone, ("view",)),
        (Allow, AuthenticatedUser, "view_extra"),
        ACE(Allow, "editors", {"view", "view_extra", "edit"}),
        (Allow, User("alice"), ALL_PERMISSIONS),
        (Deny, Everyone, ALL_PERMISSIONS),
    ]
)
enum_acl: ACL[Action] = ACL(
    [
        ACE(Allow, Everyone, Action.READ),
        (Allow, "writers", [Action.READ, Action.WRITE]),
    ]
)

# Entries that are not entries.
bad_action: ACL[Perm] = ACL([("Allow", Everyone, "view")])  # type: ignore[list-item]
bad_permissions: ACL[Perm] = ACL([(Allow, Everyone, 42)])  # type: ignore[list-item]
typo_entry: ACL[Perm] = ACL([(Allow, Everyone, "veiw")])  # type: ignore[list-item]
typo_ace: ACL[Perm] = ACL([ACE(Allow, Everyone, "veiw")])  # type: ignore[arg-type]
wrong_enum: ACL[Action] = ACL([(Allow, Everyone, "read")])  # type: ignore[list-item]
ACE("Allow", Everyone, "view")  # type: ignore[arg-type]
# Pyramid's entries use strings for actions: refused here, as at run time.
deny_all: ACL[Perm] = ACL([pyramid.authorization.DENY_ALL])  # type: ignore[list-item]
# ALL_PERMISSIONS stands alone: in a collection with other permissions it
# means every permission at run time, and typed code cannot write it.
mixed: ACL[Perm] = ACL([(Allow, Everyone, ("edit", ALL_PERMISSIONS))])  # type: ignore[list-item]


async def owner_acl(request: web.Request) -> ACL[Perm]:
    return literal_acl


def owner_entries(request: web.Request) -> list[EntryTuple[Perm]]:
    return [(Allow, User(request.match_info["owner"]), "edit")]


edit = Requires("edit", literal_acl)
# A callable context: checked when the permission type is given.
assert_type(Requires[Perm]("edit", owner_acl), Requires[Perm])
assert_type(Requires[Perm]("edit", owner_entries), Requires[Perm])
Requires[Perm]("edti", owner_acl)  # type: ignore[call-overload]
# mypy infers Requires[str] here (the permission is not checked); pyright infers
# the narrower Requires[Perm] from the context, and checks it.
assert_type(Requires("edit", owner_acl), Requires[str])  # pyright: ignore[reportAssertTypeFailure]
Requires("edit", [(Allow, Everyone, "edit")])
Requires("edit", "not a context")  # type: ignore[arg-type]
write = Requires(Action.WRITE, enum_acl)
Requires("edti", literal_acl)  # type: ignore[misc]
Requires("read", enum_acl)  # type: ignore[misc]


@Requires("edit", literal_acl)
async def edit_article(request: web.Request, article_id: int = 0) -> web.Response:
    return web.Response()


class ArticleView(web.View):
    guard = Requires("view", literal_acl) | Authenticated()

    @Requires("edit", literal_acl)
    async def post(self) -> web.Response:
        return web.Response()


@Public()
async def home(request: web.Request) -> web.Response:
    return web.Response()


async def uses(request: web.Request) -> None:
    assert_type(await edit(request), Decision[Perm])
    assert_type(await write(request), Decision[Action])
    assert_type(await edit_article(request, 3), web.Response)
    await edit_article(request, "3")  # type: ignore[arg-type]
    assert_type(await ArticleView(request).post(), web.Response)
    assert_type(await home(request), web.Response)
    assert_type(await AnyOf(Authenticated(), Authenticated())(request), str)
    assert_type(await (Authenticated() | Public())(request), str | None)
    assert_type(await AllOf(Authenticated(), edit)(request), tuple[Any, ...])
    service = AuthService.of(request)
    assert_type(await service.permits(request, "edit", literal_acl), Decision[Perm])
    await service.permits(request, "edti", literal_acl)  # type: ignore[misc]
    decision = literal_acl.permits({Everyone}, "view")
    assert_type(decision, Decision[Perm])
    literal_acl.permits({Everyone}, "delete")  # type: ignore[arg-type]
    Requires("edit", literal_acl)(42)  # type: ignore[call-overload]
