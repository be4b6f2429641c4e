"""The demo in a real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from .conftest import free_port, missing_service

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
# The machine has no outside network: keep Chromium from reaching for it.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture
async def demo() -> AsyncIterator[str]:
    """`python -m aiohttp_guard.demo` on a free loopback port."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiohttp_guard.demo",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        url = f"http://127.0.0.1:{port}"
        assert line.decode().strip() == f"aiohttp_guard demo on {url}/"
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        await process.wait()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        missing_service(f"no browser at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        # Playwright gives every launch a fresh, temporary user data dir.
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(page: Page, user: str, password: str) -> None:
    await page.fill("#username", user)
    await page.fill("#password", password)
    await page.click("#submit")


async def status(page: Page, url: str) -> int:
    response = await page.goto(url)
    assert response is not None
    return response.status


async def test_login_pages_cookie_flags_and_logout(demo: str, browser: Browser) -> None:
    context: BrowserContext = await browser.new_context()
    page = await context.new_page()

    # Anonymous: a protected page sends the browser to log in, then back.
    await page.goto(f"{demo}/view_extra")
    assert page.url == f"{demo}/login?next=/view_extra"
    await log_in(page, "user", "password")
    await page.wait_for_url(f"{demo}/view_extra")
    assert "view_extra" in await page.inner_text("#content")
    assert await page.inner_text("#who") == "You are logged in as user."

    assert await status(page, f"{demo}/view") == 200
    assert await status(page, f"{demo}/edit") == 403
    assert "You may not see this page" in await page.inner_text("#forbidden")

    # The login cookie: invisible to scripts, SameSite=Lax.
    assert "AUTH_TKT" not in await page.evaluate("document.cookie")
    (cookie,) = [c for c in await context.cookies() if c.get("name") == "AUTH_TKT"]
    assert cookie.get("httpOnly") is True
    assert cookie.get("sameSite") == "Lax"

    await page.click("#logout")
    await page.wait_for_url(f"{demo}/")
    await page.goto(f"{demo}/view_extra")
    assert page.url == f"{demo}/login?next=/view_extra"
    await context.close()


async def test_each_user_sees_their_pages(demo: str, browser: Browser) -> None:
    expected = {
        "user": {"view": 200, "view_extra": 200, "edit": 403},
        "super_user": {"view": 200, "view_extra": 200, "edit": 200},
    }
    for user, pages in expected.items():
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{demo}/login")
        await log_in(
            page,
            user,
            f"{user.removesuffix('user')}password".replace("super_", "super_"),
        )
        await page.wait_for_url(f"{demo}/whoami")
        assert await page.inner_text("#user-id") == user
        seen = {name: await status(page, f"{demo}/{name}") for name in pages}
        assert seen == pages, user
        await context.close()


async def test_failed_logins_say_the_same_thing(demo: str, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    messages: list[str] = []
    for user, password in (("user", "wrong"), ("nobody", "password")):
        await page.goto(f"{demo}/login")
        await log_in(page, user, password)
        messages.append(await page.inner_text("#error"))
    assert messages == ["Unknown user or wrong password."] * 2
    await context.close()


async def test_log_out_everywhere_across_browsers(demo: str, browser: Browser) -> None:
    phone, laptop = await browser.new_context(), await browser.new_context()
    pages: list[Page] = []
    for context in (phone, laptop):
        page = await context.new_page()
        await page.goto(f"{demo}/login?next=/edit")
        await log_in(page, "super_user", "super_password")
        await page.wait_for_url(f"{demo}/edit")
        pages.append(page)

    await pages[0].click("#logout-everywhere")
    await pages[0].wait_for_url(f"{demo}/login")
    await pages[1].goto(f"{demo}/edit")
    assert pages[1].url == f"{demo}/login?next=/edit"
    await phone.close()
    await laptop.close()
