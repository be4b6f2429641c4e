"""Access control lists with Pyramid's semantics, compiled for speed.

An `ACL` is an ordered list of entries `(action, principal, permissions)`. For
a request's principals and a permission, the first entry whose principal is
one of them and whose permissions contain the permission decides: `Allow` or
`Deny`. No match denies. The list is compiled once into a per-principal index,
so a check costs a dictionary look-up per principal, however long the list;
the latest decisions are kept, so a question asked before costs one look-up.

The public home of these names is `aiohttp_guard.acl` (and the package
itself); this module holds them so that the service can use them without
importing the aiohttp_auth functions that `acl` also offers.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Collection, Hashable, Iterable, Iterator
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar, cast

import attrs

from ._fifo_cache import FifoCache
from .principals import Allow, Group, Permission, Scope, User

__all__ = [
    "ACE",
    "ACL",
    "ALL_PERMISSIONS",
    "AllPermissions",
    "Decision",
    "EntryTuple",
]

P = TypeVar("P", bound=Hashable)


class AllPermissions(enum.Enum):
    """The type of `ALL_PERMISSIONS`, an entry's permissions meaning "any"."""

    ALL_PERMISSIONS = "ALL_PERMISSIONS"

    def __repr__(self) -> str:
        return "ALL_PERMISSIONS"


#: Use as an entry's permissions to match every permission, e.g. a final
#: `(Deny, Everyone, ALL_PERMISSIONS)` or an administrators' `Allow`.
ALL_PERMISSIONS: Final = AllPermissions.ALL_PERMISSIONS

AllPermissionsType: TypeAlias = Literal[AllPermissions.ALL_PERMISSIONS]

#: The documented tuple form of an entry: `(Allow, "editors", ("view", "edit"))`.
EntryTuple: TypeAlias = tuple[
    Permission, Hashable, P | Iterable[P] | AllPermissionsType
]

#: Pyramid's actions and built-in principals, which are plain strings there:
#: copied into an ACL here, they are no action, and groups no request has.
_PYRAMID_ACTIONS: Final = {"Allow": "Allow", "Deny": "Deny"}
_PYRAMID_PRINCIPALS: Final = {
    "system.Everyone": "Everyone",
    "system.Authenticated": "AuthenticatedUser",
}

_NO_MATCH: Final = 1 << 62
_DECISION_CACHE_SIZE: Final = 1024


def _foreign_all_permissions(value: object) -> bool:
    """Whether `value` is Pyramid's `ALL_PERMISSIONS` (an `AllPermissionsList`).

    Known by its type's name and module, so that Pyramid is never imported
    (`pyramid.authorization`'s class and `pyramid.security`'s share the name):
    it iterates as empty, so taken as a collection it would name no permission.
    """
    cls = type(value)
    return cls.__name__ == "AllPermissionsList" and cls.__module__.startswith(
        "pyramid."
    )


_FOREIGN_ALL_PERMISSIONS: Final = (
    "Pyramid's ALL_PERMISSIONS is not a permission here (it iterates as "
    "empty): use aiohttp_guard.ALL_PERMISSIONS"
)


def _pyramid_spelling(
    action: object, principal: object, permissions: object, prefix: str = ""
) -> str:
    """How to write an entry that uses Pyramid's names, which match nothing
    here (its actions and built-in groups are strings, its `ALL_PERMISSIONS`
    iterates as empty), after `prefix`; empty when it uses none of them."""
    names = (
        _PYRAMID_ACTIONS.get(action) if isinstance(action, str) else None,
        _PYRAMID_PRINCIPALS.get(principal) if isinstance(principal, str) else None,
        "ALL_PERMISSIONS" if _foreign_all_permissions(permissions) else None,
    )
    if names == (None, None, None):
        return ""
    shown = ", ".join(
        repr(value) if name is None else f"aiohttp_guard.{name}"
        for name, value in zip(names, (action, principal, permissions), strict=True)
    )
    return (
        f"{prefix}the entry is written with Pyramid's names, which would match "
        f"nothing here: write ({shown})"
    )


def _permission_set(value: object) -> frozenset[Any] | AllPermissionsType:
    """One permission, or a collection of them; a `str` is always one.

    An empty collection is refused: such an entry would match nothing, and a
    "deny all" that denies nothing lets everything through.
    """
    if value is ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    if value is None or value == "":
        # Never a permission anyone asks for: a mistake for "none" or "all".
        raise ValueError(
            f"an ACL entry's permissions are {value!r}, which names no "
            "permission: name at least one, or use ALL_PERMISSIONS"
        )
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        hash(value)
        return frozenset((value,))
    try:
        members: frozenset[Any] = frozenset(cast("Iterable[Any]", value))
    except TypeError:
        # Pyramid's ALL_PERMISSIONS is unhashable: say what to use instead.
        if isinstance(value, Collection) and any(
            map(_foreign_all_permissions, cast("Collection[Any]", value))
        ):
            raise ValueError(_FOREIGN_ALL_PERMISSIONS) from None
        raise
    if not members:
        raise ValueError(
            f"an ACL entry's permissions are empty ({value!r}), so it would "
            "match nothing: name at least one permission, or use ALL_PERMISSIONS"
        )
    return ALL_PERMISSIONS if ALL_PERMISSIONS in members else members


def _show(permissions: frozenset[P] | AllPermissionsType) -> str:
    if permissions is ALL_PERMISSIONS:
        return "ALL_PERMISSIONS"
    return "{" + ", ".join(sorted(map(repr, permissions))) + "}"


@attrs.frozen(init=False)
class ACE(Generic[P]):
    """One entry of an ACL: `ACE(Allow, "editors", {"view", "edit"})`. An
    entry that could match nothing (no permissions, Pyramid's
    `ALL_PERMISSIONS` or built-in principals) is a `ValueError`.

    Args:
        action: `Allow` or `Deny`.
        principal: Whom the entry is about: a group (any hashable), a
            `User(...)`, `Everyone` or `AuthenticatedUser`.
        permissions: One permission or a non-empty iterable of them (a `str`
            is one permission, never its characters), or `ALL_PERMISSIONS`;
            an iterable holding `ALL_PERMISSIONS` means every permission too.
    """

    action: Permission
    principal: Hashable
    permissions: frozenset[P] | AllPermissionsType

    def __init__(
        self,
        action: Permission,
        principal: Hashable,
        permissions: P | Iterable[P] | AllPermissionsType,
    ) -> None:
        # Pyramid's names are looked for only on the way to an error, or
        # where a string principal could be one.
        if not isinstance(action, Permission):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"an ACL entry's action must be Allow or Deny, not {action!r}"
                + _pyramid_spelling(action, principal, permissions, ": ")
            )
        try:
            hash(principal)
        except TypeError:
            raise TypeError(
                f"an ACL entry's principal must be hashable, not {principal!r}"
            ) from None
        if isinstance(principal, str) and principal in _PYRAMID_PRINCIPALS:
            raise ValueError(_pyramid_spelling(action, principal, permissions))
        try:
            converted: frozenset[P] | AllPermissionsType = _permission_set(permissions)
        except TypeError:
            raise TypeError(
                f"an ACL entry's permissions must be hashable, not {permissions!r}"
            ) from None
        except ValueError:
            if _foreign_all_permissions(permissions):
                raise ValueError(
                    _pyramid_spelling(action, principal, permissions)
                ) from None
            raise
        self.__attrs_init__(action, principal, converted)  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]

    def __repr__(self) -> str:
        return f"ACE({self.action!r}, {self.principal!r}, {_show(self.permissions)})"


def _entry(index: int, entry: object) -> ACE[P]:
    if isinstance(entry, ACE):
        return cast("ACE[P]", entry)
    if isinstance(entry, str | bytes) or not isinstance(entry, tuple | list):
        raise TypeError(
            f"ACL entry {index} must be an ACE or an (action, principal, "
            f"permissions) tuple, not {type(entry).__name__}"
        )
    items = cast("tuple[Any, ...] | list[Any]", entry)
    if len(items) != 3:
        raise ValueError(
            f"ACL entry {index} has {len(items)} items; expected "
            "(action, principal, permissions)"
        )
    try:
        return ACE(*items)
    except TypeError as exc:
        raise TypeError(f"ACL entry {index}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"ACL entry {index}: {exc}") from None


@attrs.frozen
class Decision(Generic[P]):
    """The answer of an ACL: truthy when allowed, and says why.

    `entry` and `index` name the entry that decided (None when none matched);
    `principals` is what was checked (None when the group resolver denied the
    user everything).
    """

    allowed: bool
    permission: P
    principals: frozenset[Hashable] | None
    entry: ACE[P] | None = None
    index: int | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        if self.principals is None:
            return f"denied {self.permission!r}: this user is denied everything"
        principals = "{" + ", ".join(sorted(map(repr, self.principals))) + "}"
        if self.entry is None:
            return f"denied {self.permission!r}: no entry matches {principals}"
        return (
            f"{verdict} {self.permission!r} by entry {self.index} "
            f"{self.entry!r} for {principals}"
        )


class ACL(Generic[P]):
    """An ordered, immutable access control list, compiled on construction.

    Args:
        entries: `ACE`s or the documented `(action, principal, permissions)`
            tuples, first match wins. A malformed entry (one with no
            permissions included) is an error naming its index, and an entry
            that earlier entries for the same principal make unreachable is
            a `UserWarning`.
    """

    __slots__ = ("_decisions", "_index", "entries", "group_entry")

    def __init__(self, entries: Iterable[ACE[P] | EntryTuple[P]]) -> None:
        self.entries: tuple[ACE[P], ...] = tuple(
            _entry(i, e) for i, e in enumerate(entries)
        )
        # principal -> (permission -> index of the deciding entry, index of the
        # first ALL_PERMISSIONS entry). Each permission index already accounts
        # for an earlier ALL_PERMISSIONS entry, so one get() answers.
        index: dict[Hashable, tuple[dict[P, int], int]] = {}
        for i, ace in enumerate(self.entries):
            by_permission, all_index = index.get(ace.principal, ({}, _NO_MATCH))
            if all_index < i:
                self._warn_unreachable(i, ace)
                continue
            if ace.permissions is ALL_PERMISSIONS:
                index[ace.principal] = (by_permission, i)
                continue
            fresh = [p for p in ace.permissions if p not in by_permission]
            if not fresh:
                self._warn_unreachable(i, ace)
            for permission in fresh:
                by_permission[permission] = i
            index[ace.principal] = (by_permission, all_index)
        self._index = index
        #: The first entry naming a group, with its index: it can match only
        #: where a group resolver gives users groups. None when no entry does.
        self.group_entry: tuple[int, ACE[P]] | None = next(
            (
                (i, ace)
                for i, ace in enumerate(self.entries)
                if not isinstance(ace.principal, User | Group | Scope)
            ),
            None,
        )
        # Decisions already made, by (permission, principals): an app asks
        # the same few questions over and over, and building a `Decision`
        # costs more than finding it: 0.9 us of a 13 us guarded request
        # (in process, as benchmarks.inprocess, 2026-11-30). Sharing one is
        # safe: it is immutable.
        self._decisions: FifoCache[tuple[P, frozenset[Hashable]], Decision[P]] = (
            FifoCache(_DECISION_CACHE_SIZE)
        )

    def _warn_unreachable(self, i: int, ace: ACE[P]) -> None:
        warnings.warn(
            f"ACL entry {i} {ace!r} can never match: earlier entries for "
            f"{ace.principal!r} decide all its permissions",
            UserWarning,
            stacklevel=3,
        )

    def __iter__(self) -> Iterator[ACE[P]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"ACL({list(self.entries)!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ACL) and self.entries == cast("ACL[Any]", other).entries
        )

    def __hash__(self) -> int:
        return hash(self.entries)

    def permits(
        self, principals: Collection[Hashable] | None, permission: P
    ) -> Decision[P]:
        """Decide `permission` for `principals` (None: deny everything)."""
        if principals is None:
            return Decision(False, permission, None)
        if not isinstance(principals, frozenset):
            principals = frozenset(principals)
        key = (permission, principals)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions.put(key, self._decide(principals, permission))
        return decision

    def _decide(self, principals: frozenset[Hashable], permission: P) -> Decision[P]:
        # The earliest entry deciding `permission` for any of the principals.
        # The loops walk the smaller of the two sides: a user in 50 groups
        # against a 3-entry ACL is decided in 1.7 us instead of 4.6. They
        # compare with `<`, not min(), which would add 0.3 us to the 1.5 us
        # of a new principal set's check (benchmarks.micro "a new user each
        # time", 2026-11-30).
        index = self._index
        best = _NO_MATCH
        if len(principals) <= len(index):
            for principal in principals:
                slot = index.get(principal)
                if slot is not None:
                    found = slot[0].get(permission, slot[1])
                    if found < best:  # noqa: PLR1730 - see above
                        best = found
        else:
            for principal, slot in index.items():
                if principal in principals:
                    found = slot[0].get(permission, slot[1])
                    if found < best:  # noqa: PLR1730 - see above
                        best = found
        if best == _NO_MATCH:
            return Decision(False, permission, principals)
        entry = self.entries[best]
        return Decision(entry.action is Allow, permission, principals, entry, best)
