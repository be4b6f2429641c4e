"""The demo site over HTTP: logins, pages by permission, refusals, Redis mode."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from typing import cast

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard.demo import api as demo_api
from aiohttp_guard.demo import app as demo_app
from aiohttp_guard.demo import make_app
from aiohttp_guard.demo.__main__ import parse_args
from aiohttp_guard.demo.pages import STYLESHEET
from aiohttp_guard.demo.provider import DemoProvider
from aiohttp_guard.demo.users import ITERATIONS, check_password, hash_password

from .conftest import REDIS_URL, RedisServer

Client = TestClient[web.Request, web.Application]
HTML = {"Accept": "text/html"}
PAGES = ("/view", "/view_extra", "/edit")
PASSWORDS = {"user": "password", "super_user": "super_password"}


def run_python(*arguments: str) -> subprocess.CompletedProcess[str]:
    """This interpreter run with `arguments`, its output captured."""
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


async def log_in(
    client: Client, user: str, next_url: str | None = None
) -> ClientResponse:
    return await client.post(
        "/login",
        params={} if next_url is None else {"next": next_url},
        data={"username": user, "password": PASSWORDS[user]},
        allow_redirects=False,
    )


async def statuses(client: Client) -> dict[str, int]:
    return {
        page: (await client.get(page, headers=HTML, allow_redirects=False)).status
        for page in PAGES
    }


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (None, {"/view": 200, "/view_extra": 302, "/edit": 302}),
        ("user", {"/view": 200, "/view_extra": 200, "/edit": 403}),
        ("super_user", {"/view": 200, "/view_extra": 200, "/edit": 200}),
    ],
)
async def test_pages_by_user(
    aiohttp_client: AiohttpClient, user: str | None, expected: dict[str, int]
) -> None:
    client = await aiohttp_client(make_app())
    if user is not None:
        assert (await log_in(client, user)).status == 303
    assert await statuses(client) == expected


ROW = re.compile(
    r'<tr id="decision-(\w+)"><td>(.*?)</td><td class="(\w+)">\w+</td><td>(.*?)</td>'
)


def decision_rows(page: str) -> dict[str, tuple[str, str]]:
    """The decisions table of a page: permission -> (verdict, deciding entry)."""
    return {name: (verdict, why) for name, _, verdict, why in ROW.findall(page)}


def entry(index: int) -> str:
    return f"{index}: <code>ACE(Allow, "


USERNAME_FIELD = re.compile(r'<input name="username".*?>', re.DOTALL)
NO_ENTRY = '<span class="muted">no entry matches: denied by default</span>'


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            None,
            {
                "view": ("allowed", entry(0)),
                "view_extra": ("denied", NO_ENTRY),
                "edit": ("denied", NO_ENTRY),
            },
        ),
        (
            "user",
            {
                "view": ("allowed", entry(0)),
                "view_extra": ("allowed", entry(1)),
                "edit": ("denied", NO_ENTRY),
            },
        ),
        (
            "super_user",
            {
                "view": ("allowed", entry(0)),
                "view_extra": ("allowed", entry(1)),
                "edit": ("allowed", entry(2)),
            },
        ),
    ],
)
async def test_home_lists_the_pages_each_user_may_open(
    aiohttp_client: AiohttpClient,
    user: str | None,
    expected: dict[str, tuple[str, str]],
) -> None:
    client = await aiohttp_client(make_app())
    if user is not None:
        await log_in(client, user)
    home = await client.get("/", headers=HTML)
    assert home.status == 200
    text = await home.text()
    rows = decision_rows(text)
    assert {name: verdict for name, (verdict, _) in rows.items()} == {
        name: verdict for name, (verdict, _) in expected.items()
    }
    for name, (_, why) in expected.items():
        assert rows[name][1].startswith(why), (name, rows[name])
    assert '<td><a href="/edit">edit</a></td>' in text
    # The home page tells the truth: what it says allowed opens, the rest not.
    opened = {
        page.lstrip("/"): status == 200
        for page, status in (await statuses(client)).items()
    }
    assert opened == {name: verdict == "allowed" for name, (verdict, _) in rows.items()}


async def test_the_stylesheet_is_served_to_everyone(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(make_app())
    for user in (None, "user"):
        if user is not None:
            await log_in(client, user)
        sheet = await client.get(STYLESHEET, headers={"Accept": "text/css"})
        assert sheet.status == 200, user
        assert sheet.content_type == "text/css"
        assert "button.link" in await sheet.text()
        home = await client.get("/")
        assert f'<link rel="stylesheet" href="{STYLESHEET}">' in await home.text()
    # The static route serves files, not a listing of them.
    assert (await client.get("/static/")).status in (403, 404)


async def test_the_403_page_names_the_user(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app())
    await log_in(client, "user")
    refused = await client.get("/edit", headers=HTML)
    assert refused.status == 403
    assert refused.content_type == "text/html"
    page = await refused.text()
    assert '<p id="who">You are logged in as user.</p>' in page
    assert "You may not see this page: &#x27;edit&#x27; is not permitted." in page


async def test_a_failed_login_keeps_the_username_escaped(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(make_app())
    username = '<b>"mallory"</b>'
    response = await client.post(
        "/login", data={"username": username, "password": "s3cret-guess"}
    )
    assert response.status == 401
    page = await response.text()
    assert 'value="&lt;b&gt;&quot;mallory&quot;&lt;/b&gt;"' in page
    assert username not in page
    assert "s3cret-guess" not in page  # the password is typed again


async def test_passwords_are_checked_off_the_event_loop(
    aiohttp_client: AiohttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check blocks until the event loop, still serving, lets it go: run
    on the loop, it would wait in vain and the login would fail."""
    client = await aiohttp_client(make_app())
    loop = asyncio.get_running_loop()
    checking, release = asyncio.Event(), threading.Event()
    threads: list[int] = []

    def slow_check(user_id: str, password: str) -> bool:
        threads.append(threading.get_ident())
        loop.call_soon_threadsafe(checking.set)
        return release.wait(5) and check_password(user_id, password)

    monkeypatch.setattr(demo_app, "check_password", slow_check)
    login = asyncio.ensure_future(log_in(client, "user"))
    await asyncio.wait_for(checking.wait(), 5)
    # While the password is checked, the server answers other requests.
    assert (await client.get("/", headers=HTML)).status == 200
    release.set()
    assert (await login).status == 303
    assert threads != [threading.get_ident()]


async def test_login_redirects_back_and_logout(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app())
    refused = await client.get("/view_extra", headers=HTML, allow_redirects=False)
    assert refused.headers["Location"] == "/login?next=/view_extra"
    form = await client.get(refused.headers["Location"])
    assert 'action="/login?next=/view_extra"' in await form.text()

    response = await log_in(client, "user", next_url="/view_extra")
    assert response.headers["Location"] == "/view_extra"
    evil = await log_in(client, "user", next_url="//evil.example/")
    assert evil.headers["Location"] == "/whoami"

    whoami = await (await client.get("/whoami")).text()
    assert '<code id="user-id">user</code>' in whoami
    assert "<code>AuthenticatedUser</code>" in whoami
    rows = decision_rows(whoami)
    assert rows["view_extra"][0] == "allowed"
    assert rows["view_extra"][1].startswith(entry(1))
    assert rows["edit"] == ("denied", NO_ENTRY)

    out = await client.post("/logout", allow_redirects=False)
    assert out.headers["Location"] == "/"
    assert (await client.get("/whoami")).status == 401  # not a browser: no redirect
    assert (
        await client.get("/whoami", headers=HTML, allow_redirects=False)
    ).status == 302


async def test_wrong_password_and_unknown_user_read_the_same(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(make_app())
    answers: list[str] = []
    for user, password in (("user", "nope"), ("nobody", "password"), ("", "")):
        response = await client.post(
            "/login", data={"username": user, "password": password}
        )
        assert response.status == 401
        # The form gives back what was typed; nothing else differs.
        text = await response.text()
        answers.append(USERNAME_FIELD.sub("", text).replace(" autofocus", ""))
    assert answers[0] == answers[1] == answers[2]
    assert "Unknown user or wrong password." in answers[0]


@pytest.mark.parametrize("user", ["user", "nobody"])
async def test_the_sixth_failed_login_in_a_minute_shows_when_to_try_again(
    aiohttp_client: AiohttpClient, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    """Known or not, an account gets five tries a minute: the sixth (the
    right password too) is the 429 page with the wait, not checked at all."""
    checked: list[str] = []

    def counted_check(user_id: str, password: str) -> bool:
        checked.append(user_id)
        return PASSWORDS.get(user_id) == password

    monkeypatch.setattr(demo_app, "check_password", counted_check)
    client = await aiohttp_client(make_app())
    for _ in range(5):
        response = await client.post(
            "/login", data={"username": user, "password": "guess"}, headers=HTML
        )
        assert response.status == 401
    kinds: list[str] = []
    for accept in (HTML, {"Accept": "application/json"}):
        response = await client.post(
            "/login", data={"username": user, "password": "password"}, headers=accept
        )
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        kinds.append(response.content_type)
    assert kinds == ["text/html", "application/problem+json"]
    assert checked == [user] * 5  # the refused attempts cost no hashing
    response = await client.post(
        "/login", data={"username": user.upper(), "password": "x"}, headers=HTML
    )
    page = await response.text()
    assert response.content_type == "text/html"
    assert re.search(r'id="wait">(\d+)</span> seconds', page)
    assert '<link rel="stylesheet" href="/static/demo.css">' in page
    assert 'href="/login"' in page
    # Another account is not held up by this one's failures.
    assert (await log_in(client, "super_user")).status == 303


def test_unknown_users_cost_the_same_key_derivation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Constant time by construction: every check derives one key at the
    same cost, known user or not (timing itself is for benchmarks, not
    tests)."""
    derivations: list[tuple[str, bytes, int]] = []
    real = hashlib.pbkdf2_hmac

    def counted(name: str, password: bytes, salt: bytes, rounds: int) -> bytes:
        derivations.append((name, salt, rounds))
        return real(name, password, salt, rounds)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)
    assert check_password("user", "password")
    assert not check_password("user", "wrong")
    assert not check_password("nobody", "password")
    assert check_password("super_user", "super_password")
    assert len(derivations) == 4
    assert len({salt for _, salt, _ in derivations}) == 3  # nobody's is a stand-in
    # OWASP's figure for PBKDF2-HMAC-SHA256, for every user and the stand-in.
    assert {(name, rounds) for name, _, rounds in derivations} == {("sha256", 600_000)}
    assert ITERATIONS == 600_000


def test_a_new_password_hash_is_salted_and_says_how_it_was_made() -> None:
    first, second = (
        hash_password("correct horse", 1_000),
        hash_password("correct horse", 1_000),
    )
    scheme, iterations, salt, digest = first.split("$")
    assert (scheme, iterations, len(salt), len(digest)) == (
        "pbkdf2_sha256",
        "1000",
        32,
        64,
    )
    assert first != second  # a fresh salt each time
    expected = hashlib.pbkdf2_hmac(
        "sha256", b"correct horse", bytes.fromhex(salt), 1_000
    )
    assert digest == expected.hex()


async def test_api_clients_get_problem_json(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app())
    anonymous = await client.get("/edit", headers={"Accept": "application/json"})
    assert anonymous.status == 401
    assert (await anonymous.json(content_type="application/problem+json"))[
        "status"
    ] == 401
    await log_in(client, "user")
    refused = await client.get("/edit", headers={"Accept": "application/json"})
    assert refused.status == 403
    assert (await refused.json(content_type="application/problem+json"))[
        "status"
    ] == 403
    page = await client.get("/edit", headers=HTML)
    assert page.content_type == "text/html"
    assert "You may not see this page" in await page.text()
    # HTML offered but ranked below JSON: the client gets what it prefers.
    ranked = await client.get(
        "/edit", headers={"Accept": "text/html;q=0.5, application/json"}
    )
    assert ranked.content_type == "application/problem+json"


async def test_logout_everywhere(aiohttp_client: AiohttpClient) -> None:
    phone = await aiohttp_client(make_app())
    laptop: TestClient[web.Request, None] = await aiohttp_client(phone.server)
    for device in (phone, laptop):
        await log_in(device, "super_user")  # type: ignore[arg-type]
    out = await phone.post("/logout-everywhere", allow_redirects=False)
    assert out.headers["Location"] == "/login"
    assert (
        await laptop.get("/edit", headers=HTML, allow_redirects=False)
    ).status == 302


async def test_redis_mode(
    aiohttp_client: AiohttpClient, redis_client: Redis, redis_prefix: str
) -> None:
    client = await aiohttp_client(make_app(redis_url=REDIS_URL))
    await log_in(client, "super_user")
    assert "AIOHTTP_SESSION" in {c.key for c in client.session.cookie_jar}
    assert await statuses(client) == {"/view": 200, "/view_extra": 200, "/edit": 200}
    await client.post("/logout-everywhere")
    assert await statuses(client) == {"/view": 200, "/view_extra": 302, "/edit": 302}
    await redis_client.delete("aiohttp_guard:not_before:super_user")
    # The login throttle counts in the same Redis: this run's attempt goes.
    throttled = cast(
        "AsyncIterator[bytes]",
        redis_client.scan_iter(match="LIMITS:aiohttp_guard:login:*"),  # pyright: ignore[reportUnknownMemberType]
    )
    keys = [key async for key in throttled]
    assert keys
    await redis_client.delete(*keys)


def test_command_line() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.redis) == ("127.0.0.1", 8080, None)
    assert (args.issuer, args.audience) == (None, "demo-api")
    args = parse_args(["--issuer", "https://idp.example", "--audience", "notes"])
    assert (args.issuer, args.audience) == ("https://idp.example", "notes")
    args = parse_args(["--host", "0.0.0.0", "--port", "9000", "--redis", REDIS_URL])  # noqa: S104
    assert (args.host, args.port, args.redis) == ("0.0.0.0", 9000, REDIS_URL)  # noqa: S104


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("redis://127.0.0.1:{port}/0", "does not answer"),
        ("not-a-url", "is not a Redis URL"),
    ],
)
def test_the_demo_refuses_to_start_without_its_redis(url: str, said: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    finished = run_python(
        "-m",
        "aiohttp_guard.demo",
        "--port",
        str(port),
        "--redis",
        url.format(port=port),
    )
    assert finished.returncode == 1
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1  # one clear line, no traceback
    assert lines[0].startswith("aiohttp_guard demo: ")
    assert said in lines[0]


async def test_redis_down_at_run_time_is_a_503_page(
    aiohttp_client: AiohttpClient, redis_server: RedisServer
) -> None:
    client = await aiohttp_client(make_app(redis_url=redis_server.url))
    await log_in(client, "super_user")
    assert (await client.get("/edit", headers=HTML)).status == 200
    redis_server.stop()
    # The login form needs no session: it still shows.
    assert (await client.get("/login", headers=HTML)).status == 200
    for page in ("/", "/view", "/edit", "/whoami"):
        for accept in (HTML, {"Accept": "application/json"}):
            response = await client.get(page, headers=accept, allow_redirects=False)
            assert response.status == 503, page
            assert response.headers["Retry-After"] == "5"
    login = await client.post(
        "/login", data={"username": "user", "password": "password"}, headers=HTML
    )
    assert login.status == 503
    assert "session store does not answer" in await login.text()
    redis_server.start()
    assert (await client.get("/edit", headers=HTML)).status == 200


def test_the_demo_without_redis_does_not_import_redis() -> None:
    probe = (
        "import sys, aiohttp_guard.demo.__main__, aiohttp_guard.demo.app; "
        "aiohttp_guard.demo.app.make_app(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))"
    )
    finished = run_python("-c", probe)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_the_demo_names_the_extra_redis_mode_needs() -> None:
    probe = (
        "import sys; sys.modules['redis'] = None\n"
        "from aiohttp_guard.demo.__main__ import main\n"
        "main(['--redis', 'redis://127.0.0.1:6379/0'])\n"
    )
    finished = run_python("-c", probe)
    assert finished.returncode == 1
    assert finished.stderr.strip() == (
        "aiohttp_guard demo: --redis needs the redis package: "
        "python -m pip install 'aiohttp_guard[redis]'"
    )


async def test_the_devices_page_escapes_what_clients_send(
    aiohttp_client: AiohttpClient,
) -> None:
    """A user agent is the client's to choose: shown escaped, never as HTML."""
    client = await aiohttp_client(make_app())
    hostile = '<script>alert("agent")</script>'
    response = await client.post(
        "/login",
        data={"username": "user", "password": PASSWORDS["user"]},
        headers={"User-Agent": hostile},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get("/devices", headers=HTML)).text()
    assert hostile not in page
    assert "&lt;script&gt;alert(&quot;agent&quot;)&lt;/script&gt;" in page
    assert "(this device)" in page
    # Ending a session id that is not the user's ends nothing.
    response = await client.post(
        "/devices/end", data={"id": "not-a-session"}, allow_redirects=False
    )
    assert response.status == 303
    assert (await client.get("/whoami", headers=HTML)).status == 200


# -- the API, for clients holding an identity provider's token ----------------


async def test_the_api_takes_a_token_with_its_scope(
    aiohttp_client: AiohttpClient,
) -> None:
    app = make_app()
    client = await aiohttp_client(app)
    anonymous = await client.get("/api/notes")
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    await log_in(client, "user")
    page = await client.get("/api-token", headers=HTML)
    found = re.search(r'<pre id="token">([^<]+)</pre>', await page.text())
    assert found
    token = found.group(1)
    client.session.cookie_jar.clear()
    answer = await client.get(
        "/api/notes", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200
    assert (await answer.json())["user"] == "user"
    # A token of the provider without the scope is refused; so is a forged one.
    provider = app[demo_api.PROVIDER]
    unscoped = provider.token("user", scope="profile")
    assert (
        await client.get("/api/notes", headers={"Authorization": f"Bearer {unscoped}"})
    ).status == 403
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (
        await client.get("/api/notes", headers={"Authorization": f"Bearer {forged}"})
    ).status == 401
    # The browser's cookie does not open the API: no notes:read scope.
    await log_in(client, "super_user")
    assert (await client.get("/api/notes")).status == 403


async def test_the_api_takes_another_providers_tokens(
    aiohttp_client: AiohttpClient, provider: DemoProvider
) -> None:
    client = await aiohttp_client(make_app(issuer=provider.issuer))
    token = provider.token("robot", scope="notes:read")
    answer = await client.get(
        "/api/notes", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200
    assert (await answer.json())["scopes"] == ["notes:read"]
    assert provider.discovery_requests == 1


def test_the_demo_runs_without_pyjwt_and_says_what_its_api_needs() -> None:
    probe = (
        "import sys, asyncio; sys.modules['jwt'] = None\n"
        "from aiohttp.test_utils import TestClient, TestServer\n"
        "from aiohttp_guard.demo.app import make_app\n"
        "async def main():\n"
        "    async with TestClient(TestServer(make_app())) as client:\n"
        "        answer = await client.get('/api/notes')\n"
        "        print(answer.status, await answer.text())\n"
        "asyncio.run(main())\n"
    )
    finished = run_python("-c", probe)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == (
        "501 The demo's API needs PyJWT: pip install 'aiohttp_guard[jwt]'"
    )
