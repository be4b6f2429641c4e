"""The audit log: each event once, on its own logger, with structured fields
and never a secret, through a real server."""

from __future__ import annotations

import enum
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, session_middleware
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    Allow,
    AnyOf,
    Authenticated,
    AuthService,
    BaseGuard,
    CookieTicketPolicy,
    Everyone,
    RequestContext,
    Requires,
    SessionTicketPolicy,
    TicketCodec,
    User,
    acl,
    auth,
)

from .apps import login, make_app, whoami
from .conftest import SECRET, Clock
from .cookies import set_cookies
from .test_legacy_tickets import old_ticket

AUDIT = "aiohttp_guard.audit"
FIELDS = ("event", "user_id", "method", "route", "client")


class NotePerm(enum.Enum):
    READ = "read"
    WRITE = "write"


NOTE_ACL = [(Allow, User("alice"), NotePerm.READ), (Allow, Everyone, NotePerm.READ)]


class AuditLog:
    """The audit records of the test's call, from INFO up."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __iter__(self) -> Iterator[logging.LogRecord]:
        return (r for r in self._caplog.records if r.name.startswith(AUDIT))


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> Iterator[AuditLog]:
    with caplog.at_level(logging.INFO, logger=AUDIT):
        yield AuditLog(caplog)


def events(
    records: AuditLog | list[logging.LogRecord], kind: str
) -> list[logging.LogRecord]:
    return [r for r in records if r.name == f"{AUDIT}.{kind}"]


def field(record: logging.LogRecord, name: str) -> object:
    return record.__dict__[name]


def audit_app(policy: CookieTicketPolicy | None = None) -> web.Application:
    app = make_app(policy or CookieTicketPolicy(SECRET, 3600))

    async def everywhere(request: web.Request) -> web.Response:
        user_id = await Authenticated()(request)
        await AuthService.of(request).logout_everywhere(user_id, request)
        return web.Response(text="done")

    @Requires(NotePerm.WRITE, NOTE_ACL)
    async def write(request: web.Request) -> web.Response:
        return web.Response(text="written")

    @AnyOf(
        Requires(NotePerm.WRITE, NOTE_ACL),
        Requires(NotePerm.WRITE, [(Allow, User("carol"), NotePerm.WRITE)]),
    )
    async def either(request: web.Request) -> web.Response:
        return web.Response(text="either")

    @Authenticated()
    async def reset(request: web.Request) -> web.Response:
        return web.Response(text="reset")

    app.add_routes(
        [
            web.post("/everywhere", everywhere),
            web.get("/write", write),
            web.get("/either", either),
            web.get("/reset/{token}", reset),
        ]
    )
    return app


async def test_a_login_and_a_logout_are_logged_once_each(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    client = await aiohttp_client(audit_app())
    await client.get("/login", params={"user": "alice"})
    await client.get("/logout")
    (login,) = events(audit_log, "login")
    assert login.levelno == logging.INFO
    assert [field(login, f) for f in FIELDS] == [
        "login",
        "alice",
        "GET",
        "/login",
        "127.0.0.1",
    ]
    assert field(login, "policy") == "CookieTicketPolicy"
    (logout,) = events(audit_log, "logout")
    assert [field(logout, f) for f in FIELDS[:4]] == [
        "logout",
        "alice",
        "GET",
        "/logout",
    ]
    assert "'alice' logged out [GET /logout]" in logout.getMessage()


async def test_a_logout_logs_who_without_the_audit_log_resolving_it_when_off(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(audit_app())
    await client.get("/login", params={"user": "alice"})
    with caplog.at_level(logging.WARNING, logger=AUDIT):
        assert await (await client.get("/logout")).text() == "logged out"
    assert events(caplog.records, "logout") == []
    assert await (await client.get("/whoami")).text() == "None"


async def test_refusals_are_logged_once_with_status_reason_and_route(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    client = await aiohttp_client(audit_app())
    assert (await client.get("/private")).status == 401
    await client.get("/login", params={"user": "bob"})
    forbidden = await client.get("/write")
    assert forbidden.status == 403
    # An enum permission is shown by its value, in the body and in the log.
    assert await forbidden.text() == "'write' is not permitted"
    # Two guards refuse, one refusal answers: one line.
    assert (await client.get("/either")).status == 403
    refusals = events(audit_log, "refusal")
    assert [(field(r, "status"), field(r, "route"), r.levelno) for r in refusals] == [
        (401, "/private", logging.INFO),
        (403, "/write", logging.INFO),
        (403, "/either", logging.INFO),
    ]
    assert field(refusals[0], "reason") == "not logged in"
    assert field(refusals[0], "user_id") is None
    assert field(refusals[1], "reason") == "'write' is not permitted"
    assert field(refusals[1], "user_id") == "bob"


async def test_a_refused_route_is_named_by_its_template_not_its_path(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    client = await aiohttp_client(audit_app())
    token = "s3cret-reset-token"
    assert (await client.get(f"/reset/{token}?code=12345")).status == 401
    (refusal,) = events(audit_log, "refusal")
    assert field(refusal, "route") == "/reset/{token}"
    text = refusal.getMessage() + repr(refusal.__dict__)
    assert token not in text
    assert "12345" not in text


async def test_a_503_is_logged_with_the_store_outage_once(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    class DownStore:
        async def not_before(self, user_id: str) -> int | None:
            raise ConnectionError("store down")

        async def revoke(
            self, user_id: str, not_before_ms: int, ttl: float | None
        ) -> None:
            raise ConnectionError("store down")

    client = await aiohttp_client(
        make_app(CookieTicketPolicy(SECRET, 3600), revocations=DownStore())
    )
    await client.get("/login", params={"user": "alice"})
    for _ in range(3):
        assert (await client.get("/private")).status == 503
    refusals = events(audit_log, "refusal")
    assert [(field(r, "status"), r.levelno) for r in refusals] == [
        (503, logging.WARNING)
    ] * 3
    (down,) = events(audit_log, "store")
    assert (down.levelno, field(down, "state")) == (logging.ERROR, "down")


async def test_logout_everywhere_and_a_revoked_ticket_are_logged(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    client = await aiohttp_client(audit_app())
    await client.get("/login", params={"user": "alice"})
    stolen = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    await client.post("/everywhere")
    (everywhere,) = events(audit_log, "logout_everywhere")
    assert field(everywhere, "user_id") == "alice"
    assert field(everywhere, "by") == "alice"
    client.session.cookie_jar.clear()
    assert await (await client.get("/whoami", cookies=stolen)).text() == "None"
    (revoked,) = events(audit_log, "revoked")
    assert field(revoked, "user_id") == "alice"
    assert field(revoked, "route") == "/whoami"


@pytest.mark.parametrize("kind", ["cookie", "session"])
async def test_a_renewal_is_logged_once(
    aiohttp_client: AiohttpClient, audit_log: AuditLog, kind: str
) -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    if kind == "cookie":
        client = await aiohttp_client(
            make_app(CookieTicketPolicy(codec, 3600, reissue_time=600))
        )
    else:
        app = web.Application(middlewares=[session_middleware(SimpleCookieStorage())])
        AuthService(SessionTicketPolicy(codec, 3600, reissue_time=600)).setup(app)
        app.add_routes([web.get("/login", login), web.get("/whoami", whoami)])
        client = await aiohttp_client(app)
    await client.get("/login", params={"user": "alice"})
    clock.now += 3100
    assert await (await client.get("/whoami")).text() == "alice"
    assert await (await client.get("/whoami")).text() == "alice"  # renewed already
    (renewal,) = events(audit_log, "renewal")
    assert field(renewal, "user_id") == "alice"
    assert field(renewal, "route") == "/whoami"
    assert events(audit_log, "legacy_conversion") == []


async def test_a_legacy_conversion_is_logged_instead_of_a_renewal(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    client = await aiohttp_client(
        audit_app(CookieTicketPolicy(SECRET, 3600, accept_legacy=True))
    )
    response = await client.get("/private", cookies={"AUTH_TKT": old_ticket()})
    assert await response.text() == "private for alice"
    (conversion,) = events(audit_log, "legacy_conversion")
    assert field(conversion, "user_id") == "alice"
    assert events(audit_log, "renewal") == []


async def test_the_aiohttp_auth_api_refusals_are_logged(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    app = web.Application()

    async def groups(user_id: str | None) -> tuple[str, ...]:
        return ()

    app.middlewares.extend(
        [
            auth.auth_middleware(auth.CookieTktAuthentication(SECRET, 60)),
            acl.acl_middleware(groups),
        ]
    )

    @acl.acl_required("edit", [(Allow, "editors", "edit")])
    async def edit(request: web.Request) -> web.Response:
        return web.Response(text="edited")

    @auth.auth_required
    async def mine(request: web.Request) -> web.Response:
        return web.Response(text="mine")

    app.add_routes([web.get("/edit", edit), web.get("/mine", mine)])
    client = await aiohttp_client(app)
    assert (await client.get("/edit")).status == 403
    assert (await client.get("/mine")).status == 403
    refusals = events(audit_log, "refusal")
    assert [(field(r, "route"), field(r, "reason")) for r in refusals] == [
        ("/edit", "'edit' is not permitted"),
        ("/mine", "not logged in"),
    ]


async def test_a_sub_application_refusal_is_logged_once(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    app = make_app(CookieTicketPolicy(SECRET, 3600))
    sub = make_app(CookieTicketPolicy(SECRET, 3600))
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    assert (await client.get("/sub/private")).status == 401
    (refusal,) = events(audit_log, "refusal")
    assert field(refusal, "route") == "/sub/private"


async def test_no_record_carries_a_ticket_or_a_secret(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    clock = Clock()
    codec = TicketCodec(SECRET, clock=clock)
    client = await aiohttp_client(
        audit_app(CookieTicketPolicy(codec, 3600, reissue_time=600))
    )
    tickets: list[str] = []
    login = await client.get("/login", params={"user": "alice"})
    tickets.append(set_cookies(login)["AUTH_TKT"].value)
    clock.now += 3100
    renewed = await client.get("/whoami")
    tickets.append(set_cookies(renewed)["AUTH_TKT"].value)
    await client.get("/write")
    await client.post("/everywhere")
    await client.get("/private", cookies={"AUTH_TKT": tickets[0] + "x"})
    await client.get("/logout")
    assert {
        r.name.rsplit(".", 1)[1] for r in audit_log if r.name.startswith(AUDIT)
    } >= {
        "login",
        "renewal",
        "refusal",
        "logout_everywhere",
        "logout",
    }
    secrets = [*tickets, *(t.split(".")[-1] for t in tickets), SECRET.decode("latin-1")]
    for record in audit_log:
        text = record.getMessage() + repr(record.__dict__)
        for secret in secrets:
            assert secret not in text, record.name


def test_refusals_stay_off_the_console_of_an_app_without_logging() -> None:
    probe = (
        "import logging\n"
        "from aiohttp_guard.audit import audit\n"
        "audit('refusal', logging.WARNING, 'refused with 403: not permitted')\n"
        "audit('store', logging.ERROR, 'revocation store down')\n"
    )
    finished = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert "refused" not in finished.stderr
    assert "revocation store down" in finished.stderr


async def test_a_custom_guard_gives_its_refusal_a_reason(
    aiohttp_client: AiohttpClient, audit_log: AuditLog
) -> None:
    class StaffOnly(BaseGuard[str]):
        async def check(self, request: web.Request) -> str:
            context = RequestContext.of(request)
            user_id = await context.user_id()
            if user_id is None:
                raise context.unauthenticated("staff must log in")
            raise context.forbidden("staff only")

    @StaffOnly()
    async def payroll(request: web.Request) -> web.Response:
        return web.Response(text="payroll")

    app = make_app(CookieTicketPolicy(SECRET, 3600))
    app.router.add_get("/payroll", payroll)
    client = await aiohttp_client(app)
    assert (await client.get("/payroll")).status == 401
    await client.get("/login", params={"user": "alice"})
    assert (await client.get("/payroll")).status == 403
    refusals = events(audit_log, "refusal")
    assert [(field(r, "reason"), field(r, "user_id")) for r in refusals] == [
        ("staff must log in", None),
        ("staff only", "alice"),
    ]
