"""The README's examples work as printed."""

from __future__ import annotations

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from redis.asyncio import Redis

from aiohttp_guard import AuthService, TicketCodec
from aiohttp_guard.testing import log_in

from .conftest import OTHER_SECRET, REDIS_URL, SECRET
from .readme import readme_module


async def test_quickstart_protects_a_route(aiohttp_client: AiohttpClient) -> None:
    quickstart = readme_module(0)
    app: web.Application = quickstart.make_app()
    client = await aiohttp_client(app)

    assert (await client.get("/me")).status == 401
    for form in (
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": ""},
        {"username": "nobody", "password": "wonderland"},
    ):
        assert (await client.post("/login", data=form)).status == 401
    assert (await client.get("/me")).status == 401

    login = await client.post(
        "/login", data={"username": "alice", "password": "wonderland"}
    )
    assert login.status == 200  # followed the redirect to /me
    assert login.url.path == "/me"
    assert await login.text() == "Hello, alice"


async def test_migration_example_builds_a_working_app(
    aiohttp_client: AiohttpClient,
) -> None:
    migration = readme_module(3)
    app: web.Application = migration.app

    async def login(request: web.Request) -> web.Response:
        await migration.auth.remember(request, "alice")
        return web.Response(text="ok")

    async def me(request: web.Request) -> web.Response:
        return web.Response(text=str(await migration.auth.get_auth(request)))

    app.add_routes([web.get("/login", login), web.get("/me", me)])
    client = await aiohttp_client(app)
    assert await (await client.get("/me")).text() == "None"
    await client.get("/login")
    assert await (await client.get("/me")).text() == "alice"


async def test_permissions_example(aiohttp_client: AiohttpClient) -> None:
    example = readme_module(1)
    app: web.Application = example.make_app()
    client = await aiohttp_client(app)

    async def status(method: str, path: str, user: str | None = None) -> int:
        client.session.cookie_jar.clear()
        if user is not None:
            log_in(client, user)
        return (await client.request(method, path)).status

    assert await status("GET", "/") == 200
    assert await status("GET", "/settings") == 401
    assert await status("GET", "/settings", "carol") == 200
    assert await status("GET", "/article") == 200
    assert await status("GET", "/article", "mallory") == 200  # view came first
    assert await status("POST", "/article") == 401
    assert await status("POST", "/article", "carol") == 403
    assert await status("POST", "/article", "mallory") == 403
    assert await status("POST", "/article", "alice") == 200
    assert await status("POST", "/article", "bob") == 200
    report = {str(r) for r in AuthService.of(app).routes_report(app)}
    assert "GET /settings -> Authenticated() (default)" in report


async def test_tokens_and_several_instances_example(
    aiohttp_client: AiohttpClient,
    monkeypatch: pytest.MonkeyPatch,
    redis_client: Redis,
    redis_prefix: str,
) -> None:
    monkeypatch.setenv("AUTH_KEYS", f"{SECRET.hex()},{OTHER_SECRET.hex()}")
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    example = readme_module(2)
    app: web.Application = example.make_app()
    client = await aiohttp_client(app)

    token = (await (await client.post("/api/login")).json())["token"]
    assert TicketCodec(SECRET).decode(token).user_id == "alice"
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/logout-everywhere")).status == 401
    done = await client.post("/logout-everywhere", headers=headers)
    assert await done.text() == "logged out on every device"
    assert (await client.post("/logout-everywhere", headers=headers)).status == 401
    await redis_client.delete("aiohttp_guard:not_before:alice")


def test_the_token_example_says_what_to_set_without_auth_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AUTH_KEYS", raising=False)
    with pytest.raises(SystemExit, match="set AUTH_KEYS"):
        readme_module(2)
