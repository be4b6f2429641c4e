"""Access control lists: `ACE`, `ACL`, `Decision` and `ALL_PERMISSIONS`, and
the functional API of aiohttp_auth's `acl` module, unchanged but for the
package name:

    from aiohttp_guard import acl

    app = web.Application(middlewares=[
        session_middleware(EncryptedCookieStorage(urandom(32))),
        auth.auth_middleware(policy),
        acl.acl_middleware(acl_group_callback),
    ])

    @acl.acl_required("edit", context)
    async def edit_view(request): ...

Applications written for its fork aiohttp_auth_autz call
`acl.setup(app, groups_callback)`, which works too, with the fork's groups.
"""

from .access_control import (
    ACE,
    ACL,
    ALL_PERMISSIONS,
    AllPermissions,
    Decision,
    EntryTuple,
)
from .compat.acl import (
    acl_middleware,
    acl_required,
    get_permitted,
    get_user_groups,
    setup,
)

__all__ = [
    "ACE",
    "ACL",
    "ALL_PERMISSIONS",
    "AllPermissions",
    "Decision",
    "EntryTuple",
    "acl_middleware",
    "acl_required",
    "get_permitted",
    "get_user_groups",
    "setup",
]
