"""Micro benchmarks, side by side in one run: tickets against the HMAC floor
and the peers' ticket formats, ACL checks against Pyramid and aiohttp_auth,
the cross-origin check against a header look-up, and a provider's JWT
verified by `JWTPolicy` against PyJWT's own `decode`.

    python -m benchmarks.micro            # the full run (about a minute)
    python -m benchmarks.micro --quick    # a smoke run: checks it works

Each figure is the median of several rounds (min-max beside it), per call, and
each ratio is against the first row of its table, measured in the same run.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import itertools
import statistics
import time
import timeit
from collections.abc import Callable, Hashable
from typing import Any

import jwt
from aiohttp.test_utils import make_mocked_request
from aiohttp_auth.acl import acl as old_acl
from aiohttp_auth.auth import auth as old_auth
from aiohttp_auth.permissions import Permission as OldPermission
from pyramid.authentication import AuthTicket, parse_ticket
from pyramid.authorization import ACLHelper, Authenticated
from pyramid.authorization import Allow as PyramidAllow
from pyramid.authorization import Everyone as PyramidEveryone
from ticket_auth import TicketFactory

from aiohttp_guard import (
    ACL,
    Allow,
    AuthenticatedUser,
    CrossOriginProtection,
    Everyone,
    TicketCodec,
    User,
)
from aiohttp_guard.demo.provider import Algorithm

from .http_apps import provider_tokens

SECRET = b"a benchmark secret of 32 bytes.."
NO_ADDRESS = "0.0.0.0"  # noqa: S104 - the peers' spelling of "not bound"
Row = tuple[str, Callable[[], Any]]
VERIFY = "Ticket verify"
ISSUE = "Ticket issue"
ACL_3 = "ACL check, 3 entries"
ACL_1000 = "ACL check, 1000 entries"
CROSS_ORIGIN = "Cross-origin check"
JWT_ALGORITHMS: tuple[Algorithm, ...] = ("RS256", "ES256", "EdDSA")
#: More distinct tokens than `JWTPolicy` keeps verified (4096): every call
#: a miss, in quick runs too.
JWT_TOKENS = 4200


def per_call(rows: list[Row], number: int, rounds: int) -> list[list[float]]:
    """Seconds per call of each row, in each round. The rows take turns
    within a round, so that a slower moment of the machine weighs on all
    of them rather than on the rows measured then."""
    timers = [timeit.Timer(fn) for _, fn in rows]
    times: list[list[float]] = [[] for _ in rows]
    for _ in range(rounds):
        for timer, row_times in zip(timers, times, strict=True):
            row_times.append(timer.timeit(number) / number)
    return times


def table(title: str, rows: list[Row], number: int, rounds: int) -> dict[str, float]:
    """Print one table; return each row's median, in seconds per call."""
    print(f"\n### {title}\n")
    print("| contender | median | min-max | ratio |")
    print("| --- | --- | --- | --- |")
    baseline = 0.0
    medians: dict[str, float] = {}
    for (name, _), times in zip(rows, per_call(rows, number, rounds), strict=True):
        median = medians[name] = statistics.median(times)
        baseline = baseline or median
        spread = f"{min(times) * 1e6:.2f}-{max(times) * 1e6:.2f} us"
        ratio = median / baseline
        print(f"| {name} | {median * 1e6:.2f} us | {spread} | {ratio:.2f}x |")
    return medians


def ticket_rows() -> tuple[list[Row], list[Row]]:
    codec = TicketCodec(SECRET)
    text = codec.encode(codec.issue("alice", 3600))
    body = text.rsplit(".", 1)[0].encode()
    mac = hmac.digest(SECRET, body, hashlib.sha256)
    # Twice as many distinct tickets as the verifier caches, cycled in order:
    # every call is a miss, so this row measures the full verification.
    many = [codec.encode(codec.issue(f"user{i}", 3600)) for i in range(8192)]
    cold = itertools.cycle(many)
    old = TicketFactory(SECRET)
    old_text = old.new("alice", valid_until=time.time() + 3600)
    pyramid_text = AuthTicket(SECRET.decode(), "alice", NO_ADDRESS, hashalg="sha512")
    pyramid_value = pyramid_text.cookie_value()

    verify: list[Row] = [
        (
            "HMAC-SHA256 floor (digest + compare_digest)",
            lambda: hmac.compare_digest(hmac.digest(SECRET, body, "sha256"), mac),
        ),
        ("aiohttp_guard TicketCodec.decode", lambda: codec.decode(text)),
        ("aiohttp_guard decode, uncached", lambda: codec.decode(next(cold))),
        (
            "ticket_auth (aiohttp_auth) validate, SHA-512",
            lambda: old.validate(old_text),
        ),
        (
            "Pyramid parse_ticket, SHA-512",
            lambda: parse_ticket(SECRET.decode(), pyramid_value, NO_ADDRESS, "sha512"),
        ),
    ]
    issue: list[Row] = [
        (
            "HMAC-SHA256 floor (digest)",
            lambda: hmac.digest(SECRET, body, "sha256"),
        ),
        (
            "aiohttp_guard issue + encode",
            lambda: codec.encode(codec.issue("alice", 3600)),
        ),
        (
            "ticket_auth (aiohttp_auth) new, SHA-512",
            lambda: old.new("alice", valid_until=time.time() + 3600),
        ),
        (
            "Pyramid AuthTicket.cookie_value, SHA-512",
            lambda: AuthTicket(
                SECRET.decode(), "alice", NO_ADDRESS, hashalg="sha512"
            ).cookie_value(),
        ),
    ]
    return verify, issue


class PyramidContext:
    def __init__(self, acl: list[tuple[str, Hashable, tuple[str, ...]]]) -> None:
        self.__acl__ = acl


class _OldPolicy:
    """Enough of an aiohttp_auth policy for its get_auth: a logged-in user."""

    async def get(self, request: object) -> str:
        return "alice"


def run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine that never waits (aiohttp_auth's checks), without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the coroutine waited")


def acl_rows(size: int) -> list[Row]:
    """Rows checking `edit`, which only the last entry grants."""
    fillers = [(f"group{i}", ("view", f"perm{i}")) for i in range(size - 1)]
    ours: ACL[str] = ACL(
        [*[(Allow, g, p) for g, p in fillers], (Allow, "editors", ("edit",))]
    )
    principals = frozenset({Everyone, AuthenticatedUser, User("alice"), "editors"})
    # More distinct users than the ACL keeps decisions for, cycled in order:
    # every check is a miss, so this row measures the compiled look-up.
    strangers = itertools.cycle(
        [
            frozenset({Everyone, AuthenticatedUser, User(f"user{i}"), "editors"})
            for i in range(4096)
        ]
    )

    pyramid = PyramidContext(
        [
            *[(PyramidAllow, g, p) for g, p in fillers],
            (PyramidAllow, "editors", ("edit",)),
        ]
    )
    pyramid_principals = [PyramidEveryone, Authenticated, "alice", "editors"]
    helper = ACLHelper()

    old_context = [
        *[(OldPermission.Allow, g, p) for g, p in fillers],
        (OldPermission.Allow, "editors", ("edit",)),
    ]

    async def old_groups(user_id: str | None) -> tuple[str, ...]:
        return ("editors",)

    request = make_mocked_request("GET", "/")
    request[old_acl.GROUPS_KEY] = old_groups
    request[old_auth.POLICY_KEY] = _OldPolicy()
    # Every contender must give the same answer, or it measures something else.
    answers = [
        bool(ours.permits(principals, "edit")),
        bool(helper.permits(pyramid, pyramid_principals, "edit")),
        run_coroutine(old_acl.get_permitted(request, "edit", old_context)),
    ]
    if answers != [True, True, True]:
        raise RuntimeError(f"the contenders disagree: {answers}")
    return [
        ("aiohttp_guard ACL.permits", lambda: ours.permits(principals, "edit")),
        (
            "aiohttp_guard ACL.permits, a new user each time",
            lambda: ours.permits(next(strangers), "edit"),
        ),
        (
            "Pyramid ACLHelper.permits",
            lambda: helper.permits(pyramid, pyramid_principals, "edit"),
        ),
        (
            "aiohttp_auth get_permitted (with its group lookup)",
            lambda: run_coroutine(old_acl.get_permitted(request, "edit", old_context)),
        ),
    ]


def cross_origin_rows() -> list[Row]:
    """`CrossOriginProtection.check` on the requests a site's own pages send,
    against one header look-up."""
    protection = CrossOriginProtection()
    host = {"Host": "app.example.com", "Cookie": "AUTH_TKT=x"}
    fetched = {
        **host,
        "Origin": "https://app.example.com",
        "Sec-Fetch-Site": "same-origin",
    }
    requests = {
        "GET (never checked)": make_mocked_request("GET", "/", headers=fetched),
        "POST, Sec-Fetch-Site same-origin": make_mocked_request(
            "POST", "/", headers=fetched
        ),
        "POST, Origin only (an older browser)": make_mocked_request(
            "POST", "/", headers={**host, "Origin": "https://app.example.com"}
        ),
        "POST, neither header (not a browser)": make_mocked_request(
            "POST", "/", headers=host
        ),
    }
    for request in requests.values():
        assert protection.check(request) is None  # noqa: S101 - all pass
    floor = requests["GET (never checked)"].headers
    rows: list[Row] = [("one header look-up", lambda: floor.get("Sec-Fetch-Site"))]
    for name, request in requests.items():
        rows.append((name, functools.partial(protection.check, request)))
    return rows


class _Sent(dict[object, object]):
    """What `JWTPolicy.identify` uses of a request, its headers and its
    keys (where the request's state is kept), without the weight of a
    mocked request (whose garbage would be measured too)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.headers = {"Authorization": f"Bearer {token}"}


def jwt_rows(algorithm: Algorithm, tokens: int) -> list[Row]:
    """A token never seen before, verified by `JWTPolicy` (keys already
    fetched), against PyJWT's `decode` of one token with the same checks:
    what the policy adds to the library it verifies with."""
    policy, provider = provider_tokens(algorithm)
    key = provider.key_for(algorithm)
    pyjwk = jwt.PyJWK(key.public_jwk(), algorithm)
    one = provider.token("alice", algorithm=algorithm, lifetime=3600)
    texts = [
        provider.token(f"user{i}", algorithm=algorithm, lifetime=3600)
        for i in range(tokens)
    ]
    # Both rows take the same tokens in turn: the floor decodes what the
    # policy verifies.
    sent: list[Any] = [_Sent(text) for text in texts]
    cold, floor = itertools.cycle(sent), itertools.cycle(texts)
    again: Any = _Sent(one)
    options = {"require": ["exp", "iat", "iss", "aud", "sub"]}
    return [
        (
            "PyJWT decode (floor)",
            lambda: jwt.decode(
                next(floor),
                key=pyjwk,
                algorithms=[algorithm],
                audience=provider.audience,
                issuer=provider.issuer,
                leeway=30,
                options=options,  # type: ignore[arg-type]
            ),
        ),
        (
            "aiohttp_guard JWTPolicy, uncached",
            lambda: run_coroutine(policy.identify(next(cold))),
        ),
        (
            "aiohttp_guard JWTPolicy, the same token again",
            lambda: run_coroutine(policy.identify(again)),
        ),
    ]


def run(*, quick: bool) -> dict[str, dict[str, float]]:
    """Print every table; return their medians by table title and row name."""
    number, rounds = (200, 2) if quick else (20_000, 7)
    verify, issue = ticket_rows()
    return {
        VERIFY: table(VERIFY, verify, number, rounds),
        ISSUE: table(ISSUE, issue, number, rounds),
        ACL_3: table(ACL_3, acl_rows(3), number, rounds),
        ACL_1000: table(ACL_1000, acl_rows(1000), number // 10, rounds),
        CROSS_ORIGIN: table(CROSS_ORIGIN, cross_origin_rows(), number, rounds),
        **{
            f"JWT verify, {alg}": table(
                f"JWT verify, {alg}",
                jwt_rows(alg, JWT_TOKENS),
                number // 10,
                rounds,
            )
            for alg in JWT_ALGORITHMS
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    run(quick=args.quick)


if __name__ == "__main__":
    main()
