"""Guarantees that hold when services, chains and sub-applications are
composed: each service reads only its own per-request state, a logout clears
every credential and has the last word, and tickets are never cached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session import SimpleCookieStorage, session_middleware
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import (
    Allow,
    Authenticated,
    AuthService,
    BearerTicketPolicy,
    CookieTicketPolicy,
    Everyone,
    MemoryRevocationStore,
    Public,
    SessionTicketPolicy,
    TicketCodec,
    acl,
    forget,
    get_auth,
    remember,
)
from aiohttp_guard.policies._ticketing import TicketPolicyBase
from aiohttp_guard.testing import bearer_header, ticket_cookie

from .apps import make_app
from .conftest import OTHER_SECRET, SECRET
from .cookies import set_cookies
from .test_legacy_tickets import old_ticket
from .test_session_policy import redis_storage, session_app


async def whoami(request: web.Request) -> web.Response:
    return web.Response(text=str(await get_auth(request)))


async def logout(request: web.Request) -> web.Response:
    await forget(request)
    return web.Response(text="out")


# -- per-request state is per service and per policy -------------------------


def access_log(seen: list[str | None]) -> Middleware:
    """An outer app's middleware that asks who the request is, as access
    logs do, before a sub-application's service has run."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append(await get_auth(request))
        return await handler(request)

    return middleware


async def test_a_sub_application_chain_never_uses_the_parent_chain_policy(
    aiohttp_client: AiohttpClient,
) -> None:
    """Outer app on [cookie A, bearer A], a sub-application on [cookie B,
    bearer B] with another secret: A's bearer token posted to B's login
    gets B's cookie, never a token signed with A's secret."""
    outer_bearer = BearerTicketPolicy(SECRET, 600)
    outer = web.Application()
    AuthService([CookieTicketPolicy(SECRET, 600, cookie_name="A"), outer_bearer]).setup(
        outer
    )
    seen: list[str | None] = []
    outer.middlewares.append(access_log(seen))

    async def login(request: web.Request) -> web.Response:
        token = await remember(request, "bob")
        return web.Response(text=str(token))

    inner_cookie = CookieTicketPolicy(OTHER_SECRET, 600, cookie_name="B")
    inner = web.Application()
    AuthService([inner_cookie, BearerTicketPolicy(OTHER_SECRET, 600)]).setup(inner)
    inner.add_routes([web.post("/login", login), web.get("/whoami", whoami)])
    innermost = web.Application()
    AuthService(CookieTicketPolicy(OTHER_SECRET[::-1], 600, cookie_name="C")).setup(
        innermost
    )
    innermost.add_routes([web.post("/login", login), web.get("/whoami", whoami)])
    inner.add_subapp("/deeper", innermost)
    outer.add_subapp("/b", inner)
    client = await aiohttp_client(outer)

    headers = bearer_header(outer_bearer, "alice")
    response = await client.post("/b/login", headers=headers)
    assert seen == ["alice"]  # the outer service did identify the request
    assert await response.text() == "None"  # B's cookie policy took the login
    cookies = set_cookies(response)
    assert set(cookies) == {"B"}
    assert TicketCodec(OTHER_SECRET).decode(cookies["B"].value).user_id == "bob"
    assert await (await client.get("/b/whoami")).text() == "bob"

    response = await client.post("/b/deeper/login", headers=headers)
    assert set(set_cookies(response)) == {"C"}
    assert await (await client.get("/b/deeper/whoami")).text() == "bob"
    # The outer app's token means nothing to the inner services.
    fresh = await aiohttp_client(outer)
    who = await fresh.get("/b/whoami", headers=headers)
    assert await who.text() == "None"


async def test_the_acl_layer_keeps_each_service_groups_apart(
    aiohttp_client: AiohttpClient,
) -> None:
    outer_policy = CookieTicketPolicy(SECRET, 600)
    outer = web.Application()
    AuthService(outer_policy).setup(outer)
    outer.middlewares.append(acl.acl_middleware(lambda user_id: ("outer-admins",)))
    asked: list[frozenset[Hashable] | None] = []

    @web.middleware
    async def groups_log(request: web.Request, handler: Handler) -> web.StreamResponse:
        asked.append(await acl.get_user_groups(request))
        return await handler(request)

    outer.middlewares.append(groups_log)

    async def groups(request: web.Request) -> web.Response:
        found = await acl.get_user_groups(request) or ()
        return web.Response(text=",".join(sorted(map(str, found))))

    async def staff(user_id: str | None) -> tuple[str, ...]:
        return ("inner-staff",)

    inner = web.Application()
    AuthService(outer_policy, groups=staff).setup(inner)
    inner.router.add_get("/groups", groups)
    outer.router.add_get("/groups", groups)
    outer.add_subapp("/inner", inner)
    client = await aiohttp_client(outer)
    cookies = ticket_cookie(outer_policy, "alice")

    inside = await client.get("/inner/groups", cookies=cookies)
    assert (
        await inside.text()
        == "Group.AuthenticatedUser,Group.Everyone,alice,inner-staff"
    )
    assert asked
    assert "outer-admins" in (asked[-1] or ())
    outside = await client.get("/groups", cookies=cookies)
    assert "outer-admins" in await outside.text()


# -- logout clears every credential and has the last word ---------------------


async def test_a_chain_logout_clears_the_cookie_when_nothing_identified(
    aiohttp_client: AiohttpClient,
) -> None:
    cookie = CookieTicketPolicy(SECRET, 600)
    app = make_app([BearerTicketPolicy(SECRET, 600), cookie])  # type: ignore[arg-type]
    client = await aiohttp_client(app)
    cookies = ticket_cookie(cookie, "alice")
    assert await (await client.get("/whoami", cookies=cookies)).text() == "alice"

    # The route never asks who the request is: nothing identified it.
    response = await client.get("/logout", cookies=cookies)
    cleared = set_cookies(response)["AUTH_TKT"]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"


def sharing_apps(kind: str) -> web.Application:
    """A root service and a sub-application's service on one ticket, the
    root's renewing it on every request."""
    root = web.Application()
    sub = web.Application()
    policies: list[TicketPolicyBase]
    if kind == "cookie":
        policies = [CookieTicketPolicy(SECRET, 60, reissue_time=59.98) for _ in "ab"]
    else:
        policies = [SessionTicketPolicy(SECRET, 60, reissue_time=59.98) for _ in "ab"]
        root.middlewares.append(session_middleware(SimpleCookieStorage()))
    AuthService(policies[0], default=Authenticated()).setup(root)
    AuthService(policies[1]).setup(sub)

    async def login(request: web.Request) -> web.Response:
        await remember(request, "alice")
        return web.Response(text="in")

    root.router.add_get("/login", Public()(login))
    root.router.add_get("/whoami", whoami)
    sub.router.add_get("/logout", logout)
    root.add_subapp("/sub", sub)
    return root


@pytest.mark.parametrize("kind", ["cookie", "session"])
async def test_a_sub_application_logout_has_the_last_word(
    aiohttp_client: AiohttpClient, kind: str
) -> None:
    client = await aiohttp_client(sharing_apps(kind))
    await client.get("/login")
    await asyncio.sleep(0.05)  # due for renewal by the root service
    assert await (await client.get("/whoami")).text() == "alice"
    await asyncio.sleep(0.05)
    response = await client.get("/sub/logout")
    assert await response.text() == "out"
    assert (await client.get("/whoami")).status == 401


async def test_session_logout_moves_to_a_new_session_and_empties_the_old(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    storage = redis_storage(redis_client, redis_prefix)
    client = await aiohttp_client(session_app(SessionTicketPolicy(SECRET, 60), storage))
    await client.get("/login", params={"user": "alice"})
    await client.get("/put", params={"item": "apple"})
    logged_in = next(c.value for c in client.session.cookie_jar if c.key == "SID")

    response = await client.get("/logout")
    after = set_cookies(response)["SID"].value
    assert after != logged_in
    assert await (await client.get("/whoami")).text() == "None"
    assert await (await client.get("/basket")).text() == "None"  # nothing carried
    # Whoever kept the logged-in session's id holds nothing.
    replay = await client.get("/whoami", cookies={"SID": logged_in})
    assert await replay.text() == "None"


# -- responses carrying tickets are never stored by shared caches ------------


async def test_responses_that_set_or_clear_a_ticket_are_not_stored(
    aiohttp_client: AiohttpClient,
) -> None:
    app = make_app(CookieTicketPolicy(SECRET, 600))

    async def cached_login(request: web.Request) -> web.Response:
        await remember(request, "alice")
        return web.Response(text="in", headers={"Cache-Control": "private, max-age=0"})

    app.router.add_get("/cached-login", cached_login)
    client = await aiohttp_client(app)

    login = await client.get("/login", params={"user": "alice"})
    assert login.headers["Cache-Control"] == "no-store"
    plain = await client.get("/whoami")
    assert "Cache-Control" not in plain.headers
    redirect = await client.get(
        "/login-redirect", params={"user": "alice"}, allow_redirects=False
    )
    assert redirect.status == 302
    assert redirect.headers["Cache-Control"] == "no-store"
    out = await client.get("/logout")
    assert out.headers["Cache-Control"] == "no-store"
    own = await client.get("/cached-login")
    assert own.headers["Cache-Control"] == "private, max-age=0"


async def test_a_bearer_token_login_is_not_stored(
    aiohttp_client: AiohttpClient,
) -> None:
    app = web.Application()
    AuthService(BearerTicketPolicy(SECRET, 600)).setup(app)

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"token": await remember(request, "robot")})

    app.router.add_post("/token", token)
    client = await aiohttp_client(app)
    response = await client.post("/token")
    assert response.headers["Cache-Control"] == "no-store"


# -- found by the adversarial review -------------------------------------------


async def test_a_sub_application_acl_callback_is_its_own_service(
    aiohttp_client: AiohttpClient,
) -> None:
    """`acl_middleware` given to the sub-application's constructor runs before
    the sub-application's service: its callback is still that service's."""
    policy = CookieTicketPolicy(SECRET, 600)
    outer = web.Application()
    AuthService(policy).setup(outer)

    def nobody(user_id: str | None) -> None:
        return None  # "deny this user everything"

    @acl.acl_required("view", [(Allow, Everyone, "view")])
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page")

    inner = web.Application(middlewares=[acl.acl_middleware(nobody)])
    AuthService(policy).setup(inner)
    inner.router.add_get("/page", page)
    outer.add_subapp("/inner", inner)
    client = await aiohttp_client(outer)
    response = await client.get("/inner/page", cookies=ticket_cookie(policy, "mallory"))
    assert response.status == 403


async def test_a_concurrent_renewal_never_revives_a_logged_out_session(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    """A request that read the session before a logout (another tab) finishes
    after it: it does not renew, so the emptied session stays empty."""
    policy = SessionTicketPolicy(SECRET, 60, reissue_time=59.98)
    app = session_app(policy, redis_storage(redis_client, redis_prefix))
    entered, release = asyncio.Event(), asyncio.Event()

    @Authenticated()
    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.Response(text="slow")

    app.router.add_get("/slow", slow)
    client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    sid = {"SID": next(c.value for c in client.session.cookie_jar if c.key == "SID")}
    await asyncio.sleep(0.05)  # due for renewal

    other_tab = asyncio.create_task(client.get("/slow", cookies=sid))
    await asyncio.wait_for(entered.wait(), 5)
    assert await (await client.get("/logout", cookies=sid)).text() == "logged out"
    release.set()
    assert await (await other_tab).text() == "slow"
    assert await (await client.get("/whoami", cookies=sid)).text() == "None"


async def test_a_logout_after_the_service_finished_is_an_error(
    aiohttp_client: AiohttpClient,
) -> None:
    """A middleware listed before the service logs out once the service has
    written the response's ticket: the logout cannot happen, and says so."""
    policy = CookieTicketPolicy(SECRET, 600)
    outcome: list[str] = []

    @web.middleware
    async def late_logout(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        try:
            await forget(request)
        except RuntimeError as exc:
            outcome.append(str(exc))
        return response

    app = web.Application(middlewares=[late_logout])
    AuthService(policy).setup(app)
    app.router.add_get("/whoami", whoami)
    client = await aiohttp_client(app)
    await client.get("/whoami", cookies=ticket_cookie(policy, "alice"))
    assert len(outcome) == 1
    assert "forget() was called after the aiohttp_guard middleware" in outcome[0]


async def test_nested_services_on_the_same_tickets_share_revocations(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A sub-application's service that accepts the parent's tickets refuses
    those revoked through either; one with a store of its own is warned of."""
    policy = CookieTicketPolicy(SECRET, 600)
    parent = web.Application()
    parent_service = AuthService(policy)
    parent_service.setup(parent)
    parent.router.add_get("/whoami", whoami)
    account = web.Application()
    account_service = AuthService(CookieTicketPolicy(SECRET, 600))
    account_service.setup(account)

    async def everywhere(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await account_service.logout_everywhere(user_id, request)
        return web.Response(text="done")

    account.router.add_post("/everywhere", everywhere)
    parent.add_subapp("/account", account)
    separate = web.Application()
    AuthService(policy, revocations=MemoryRevocationStore()).setup(separate)
    parent.add_subapp("/separate", separate)

    with caplog.at_level(logging.WARNING, logger="aiohttp_guard"):
        client = await aiohttp_client(parent)
    warnings = [r for r in caplog.records if "another store" in r.getMessage()]
    assert len(warnings) == 1
    stolen = ticket_cookie(policy, "alice")
    assert await (await client.get("/whoami", cookies=stolen)).text() == "alice"
    done = await client.post("/account/everywhere", cookies=stolen)
    assert await done.text() == "done"
    assert await (await client.get("/whoami", cookies=stolen)).text() == "None"


async def test_nested_services_reading_the_same_old_tickets_share_revocations(
    aiohttp_client: AiohttpClient,
) -> None:
    """Two services with rings of their own that both read aiohttp_auth's
    tickets with one old secret accept the same old tickets: a revocation
    made through the parent holds in the sub-application too."""
    old_secret = b"the old app's secret"
    parent = web.Application()
    AuthService(
        CookieTicketPolicy(SECRET, 600, accept_legacy=True, legacy_secret=old_secret)
    ).setup(parent)

    async def everywhere(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await AuthService.of(request).logout_everywhere(user_id, request)
        return web.Response(text="done")

    parent.router.add_post("/everywhere", everywhere)
    account = web.Application()
    AuthService(
        CookieTicketPolicy(
            OTHER_SECRET, 600, accept_legacy=True, legacy_secret=old_secret
        )
    ).setup(account)
    account.router.add_get("/whoami", whoami)
    parent.add_subapp("/account", account)
    client = await aiohttp_client(parent, cookie_jar=aiohttp.DummyCookieJar())
    stolen = {"Cookie": f"AUTH_TKT={old_ticket('alice', secret=old_secret)}"}
    assert await (await client.get("/account/whoami", headers=stolen)).text() == (
        "alice"
    )
    assert await (await client.post("/everywhere", headers=stolen)).text() == "done"
    assert await (await client.get("/account/whoami", headers=stolen)).text() == (
        "None"
    )
