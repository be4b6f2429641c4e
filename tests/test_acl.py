"""ACL semantics: first match decides, default deny, compiled and exact."""

# These tests look into the caches' internals on purpose.
# pyright: reportPrivateUsage=false

from __future__ import annotations

import enum
import warnings
from collections.abc import Hashable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_guard import (
    ACE,
    ACL,
    ALL_PERMISSIONS,
    Allow,
    AuthenticatedUser,
    Decision,
    Deny,
    EntryTuple,
    Everyone,
    Group,
    Permission,
    User,
)
from aiohttp_guard.access_control import _DECISION_CACHE_SIZE


def test_first_matching_entry_decides_and_no_match_denies() -> None:
    acl: ACL[str] = ACL(
        [
            (Allow, Everyone, ("view",)),
            (Deny, "banned", ALL_PERMISSIONS),
            (Allow, AuthenticatedUser, ("view", "comment")),
        ]
    )
    assert acl.permits({Everyone}, "view")
    assert not acl.permits({Everyone}, "comment")
    assert acl.permits({Everyone, AuthenticatedUser}, "comment")
    banned = acl.permits({Everyone, AuthenticatedUser, "banned"}, "comment")
    assert not banned
    assert (banned.index, banned.entry) == (1, ACE(Deny, "banned", ALL_PERMISSIONS))
    # an earlier Allow still wins over a later Deny
    assert acl.permits({Everyone, "banned"}, "view").index == 0
    nothing = acl.permits({Everyone}, "delete")
    assert (nothing.allowed, nothing.entry, nothing.index) == (False, None, None)


def test_a_string_is_one_permission_never_its_characters() -> None:
    ace: ACE[str] = ACE(Deny, "super_user", "view_extra")
    assert ace.permissions == frozenset({"view_extra"})
    acl: ACL[str] = ACL([(Allow, "g", ("view_extra")), (Allow, "g", "edit")])
    assert acl.permits({"g"}, "view_extra")
    assert not acl.permits({"g"}, "view")  # the old substring test said yes
    assert not acl.permits({"g"}, "e")


def test_permissions_of_any_hashable_type() -> None:
    class Perm(enum.Enum):
        READ = 1
        WRITE = 2

    acl: ACL[Perm] = ACL([ACE(Allow, 7, Perm.READ), (Allow, ("team", 1), [Perm.WRITE])])
    assert acl.permits({7}, Perm.READ)
    assert not acl.permits({7}, Perm.WRITE)
    assert acl.permits({("team", 1)}, Perm.WRITE)


def test_user_principal_is_not_a_group_of_the_same_name() -> None:
    acl: ACL[str] = ACL(
        [(Allow, "admins", ALL_PERMISSIONS), (Allow, User("admins"), "view")]
    )
    assert not acl.permits({User("admins")}, "edit")
    assert acl.permits({User("admins")}, "view")
    assert User("a") == User("a")
    assert repr(User("a")) == "User('a')"


def test_resolver_none_denies_everything() -> None:
    acl: ACL[str] = ACL([(Allow, Everyone, ALL_PERMISSIONS)])
    decision = acl.permits(None, "view")
    assert not decision
    assert decision.principals is None
    assert str(decision) == "denied 'view': this user is denied everything"


def test_decision_explains_itself() -> None:
    acl: ACL[str] = ACL([(Allow, "editors", ("edit", "view"))])
    allowed = acl.permits(["editors", Everyone], "edit")
    assert isinstance(allowed, Decision)
    assert allowed.principals == frozenset({"editors", Everyone})
    assert str(allowed) == (
        "allowed 'edit' by entry 0 ACE(Allow, 'editors', {'edit', 'view'}) "
        "for {'editors', Everyone}"
    )
    assert (
        str(acl.permits([Everyone], "edit"))
        == "denied 'edit': no entry matches {Everyone}"
    )


@pytest.mark.parametrize(
    ("entry", "error", "message"),
    [
        ((Allow, Everyone), ValueError, "ACL entry 1 has 2 items"),
        ((Allow, Everyone, "a", "b"), ValueError, "ACL entry 1 has 4 items"),
        (("Allow", Everyone, "view"), TypeError, "ACL entry 1: .* Allow or Deny"),
        ((Allow, ["not", "hashable"], "view"), TypeError, "ACL entry 1: .*principal"),
        ((Allow, Everyone, [["x"]]), TypeError, "ACL entry 1: .*permissions"),
        ("Allow Everyone view", TypeError, "ACL entry 1 must be an ACE"),
        (42, TypeError, "ACL entry 1 must be an ACE"),
    ],
)
def test_malformed_entries_name_their_index(
    entry: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ACL([(Allow, Everyone, "view"), entry])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "entries",
    [
        [(Allow, "g", ("a", "b")), (Deny, "g", "a")],
        [(Allow, "g", ALL_PERMISSIONS), (Deny, "g", "a")],
        [(Deny, "g", ALL_PERMISSIONS), (Allow, "g", ALL_PERMISSIONS)],
    ],
)
def test_entries_that_can_never_match_are_warned_about(
    entries: list[tuple[Permission, str, object]],
) -> None:
    with pytest.warns(UserWarning, match="ACL entry 1 .* can never match"):
        ACL(entries)


def test_reachable_entries_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ACL([(Allow, "g", "a"), (Deny, "g", ("a", "b")), (Allow, "g", ALL_PERMISSIONS)])
        ACL([(Allow, "g", "a"), (Allow, "h", "a")])


def test_all_permissions_matches_any_permission() -> None:
    acl: ACL[str] = ACL([(Allow, "g", "view"), (Deny, Everyone, ALL_PERMISSIONS)])
    assert acl.permits({"g", Everyone}, "view")
    assert acl.permits({"g", Everyone}, "edit").entry == ACE(
        Deny, Everyone, ALL_PERMISSIONS
    )
    assert repr(ALL_PERMISSIONS) == "ALL_PERMISSIONS"
    assert ACE(Allow, "g", ["a", ALL_PERMISSIONS]).permissions is ALL_PERMISSIONS


def test_acl_is_a_value() -> None:
    entries: list[ACE[str] | EntryTuple[str]] = [
        (Allow, Everyone, "view"),
        ACE(Allow, "g", {"b", "a"}),
    ]
    acl: ACL[str] = ACL(entries)
    assert acl == ACL(entries)
    assert hash(acl) == hash(ACL(entries))
    assert len(acl) == 2
    assert list(acl)[1] == ACE(Allow, "g", {"a", "b"})
    assert (
        repr(acl)
        == "ACL([ACE(Allow, Everyone, {'view'}), ACE(Allow, 'g', {'a', 'b'})])"
    )
    assert acl != entries


def test_checking_many_principals_against_a_short_acl() -> None:
    acl: ACL[str] = ACL([(Allow, "g7", "view")])
    principals = {f"g{i}" for i in range(100)}
    assert acl.permits(principals, "view").index == 0
    assert not acl.permits(principals - {"g7"}, "view")


# -- the compiled ACL against a plain first-match scan ------------------------

PRINCIPALS = [Everyone, AuthenticatedUser, "a", "b", "c", User("a"), 1]
PERMISSIONS = ["view", "edit", "delete", "v"]

entries = st.lists(
    st.tuples(
        st.sampled_from([Allow, Deny]),
        st.sampled_from(PRINCIPALS),
        st.one_of(
            st.just(ALL_PERMISSIONS),
            st.sampled_from(PERMISSIONS),
            st.frozensets(st.sampled_from(PERMISSIONS), min_size=1, max_size=3),
        ),
    ),
    max_size=12,
)


#: Series of (principals, permission) questions to one ACL.
questions = st.lists(
    st.tuples(st.frozensets(st.sampled_from(PRINCIPALS)), st.sampled_from(PERMISSIONS)),
    max_size=40,
)


def scan(
    entries: list[tuple[Permission, Hashable, object]],
    principals: frozenset[Hashable],
    permission: str,
) -> tuple[bool, int | None]:
    for index, (action, principal, permissions) in enumerate(entries):
        if principal not in principals:
            continue
        if (
            permissions is ALL_PERMISSIONS
            or permissions == permission
            or (isinstance(permissions, frozenset) and permission in permissions)
        ):
            return action is Allow, index
    return False, None


@given(
    entries=entries,
    principals=st.frozensets(st.sampled_from(PRINCIPALS)),
    permission=st.sampled_from(PERMISSIONS),
)
def test_compiled_acl_agrees_with_a_first_match_scan(
    entries: list[tuple[Permission, Hashable, object]],
    principals: frozenset[Hashable],
    permission: str,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        acl: ACL[str] = ACL(entries)  # type: ignore[arg-type]
    decision = acl.permits(principals, permission)
    assert (decision.allowed, decision.index) == scan(entries, principals, permission)


def test_group_and_permission_enums_keep_the_old_names() -> None:
    assert Permission.Allow is Allow
    assert Group.Everyone is Everyone
    assert repr(Allow) == "Allow"
    assert repr(AuthenticatedUser) == "AuthenticatedUser"


@given(
    entries=entries,
    questions=questions,
)
def test_kept_decisions_answer_repeated_questions_as_a_fresh_check_would(
    entries: list[tuple[Permission, Hashable, object]],
    questions: list[tuple[frozenset[Hashable], str]],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        acl: ACL[str] = ACL(entries)  # type: ignore[arg-type]
    for principals, permission in questions + questions:
        # An equal set built anew (not the same object) finds the same answer.
        decision = acl.permits(set(principals), permission)
        assert (decision.allowed, decision.index) == scan(
            entries, principals, permission
        )
        assert decision.principals == principals
        assert decision.permission == permission


def test_an_acl_keeps_a_bounded_number_of_decisions() -> None:
    acl: ACL[str] = ACL([(Allow, "editors", "edit")])
    first = acl.permits({"editors", User("user0")}, "edit")
    assert acl.permits({"editors", User("user0")}, "edit") is first
    for i in range(5000):
        assert acl.permits({"editors", User(f"user{i}")}, "edit")
    assert len(acl._decisions) == _DECISION_CACHE_SIZE
    again = acl.permits({"editors", User("user0")}, "edit")
    assert again == first
    assert again is not first  # forgotten, decided anew


@given(
    entries=entries,
    questions=questions,
)
def test_users_of_the_same_groups_share_a_verdict_but_keep_their_principals(
    entries: list[tuple[Permission, Hashable, object]],
    questions: list[tuple[frozenset[Hashable], str]],
) -> None:
    """Principals no entry names (each user's own) never change the verdict,
    which is kept per the named ones; each decision still says whom it
    checked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        acl: ACL[str] = ACL(entries)  # type: ignore[arg-type]
    for number, (principals, permission) in enumerate(questions + questions):
        asked = principals | {User(f"stranger-{number}")}
        decision = acl.permits(asked, permission)
        assert (decision.allowed, decision.index) == scan(entries, asked, permission)
        assert decision.principals == asked
