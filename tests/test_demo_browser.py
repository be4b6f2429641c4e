"""The demo in a real browser: Debian's Chromium, driven by Playwright.

Screenshots of the main pages land in `artifacts/screenshots/` at the top of
the repository (git-ignored), for a reviewer to look at without running the
demo."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from .conftest import free_port, missing_service

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PASSWORDS = {"user": "password", "super_user": "super_password"}
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


async def logged_in(
    demo: str, contexts: list[BrowserContext], user: str, landing: str
) -> list[Page]:
    """A page per browser context, each logged in as `user` through the
    login form and sent on to `landing`."""
    pages: list[Page] = []
    for context in contexts:
        page = await context.new_page()
        await page.goto(f"{demo}/login?next={landing}")
        await log_in(page, user, PASSWORDS[user])
        await page.wait_for_url(f"{demo}{landing}")
        pages.append(page)
    return pages


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
        # What was typed stays in the form; the password is typed again.
        assert await page.input_value("#username") == user
        assert await page.input_value("#password") == ""
    assert messages == ["Unknown user or wrong password."] * 2
    await context.close()


async def test_the_sixth_failed_login_shows_when_to_try_again(
    demo: str, browser: Browser
) -> None:
    """The 429 page, in the demo's look, saved as
    `anonymous-login-throttled.png`."""
    context = await browser.new_context(viewport={"width": 900, "height": 640})
    page = await context.new_page()
    for _ in range(5):
        await page.goto(f"{demo}/login")
        await log_in(page, "user", "not-the-password")
        await page.wait_for_selector("#error")
    await page.goto(f"{demo}/login")
    await log_in(page, "user", "password")
    await page.wait_for_selector("#throttled")
    assert 1 <= int(await page.inner_text("#wait")) <= 60
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "anonymous-login-throttled.png"
    await page.screenshot(path=shot, full_page=True)
    assert is_screenshot(shot)
    await page.click("text=Back to the login form")
    await page.wait_for_url(f"{demo}/login")
    await context.close()


async def test_log_out_everywhere_across_browsers(demo: str, browser: Browser) -> None:
    phone, laptop = await browser.new_context(), await browser.new_context()
    pages = await logged_in(demo, [phone, laptop], "super_user", "/edit")

    await pages[0].click("#logout-everywhere")
    await pages[0].wait_for_url(f"{demo}/login")
    await pages[1].goto(f"{demo}/edit")
    assert pages[1].url == f"{demo}/login?next=/edit"
    await phone.close()
    await laptop.close()


async def test_buttons_in_the_nav_look_like_its_links(
    demo: str, browser: Browser
) -> None:
    """The stylesheet loads (it is public) and the log-out buttons wear the
    links' colour, with no button face or border."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{demo}/login")
    await log_in(page, "user", "password")
    await page.wait_for_url(f"{demo}/whoami")
    style = """e => { const s = getComputedStyle(e);
        return [s.color, s.backgroundColor, s.borderTopStyle, s.fontSize]; }"""
    link = await page.eval_on_selector("nav a", style)
    button = await page.eval_on_selector("#logout", style)
    assert button[0] == link[0]
    assert button[1] == "rgba(0, 0, 0, 0)"
    assert button[2] == "none"
    assert button[3] == link[3]
    await context.close()


def is_screenshot(path: Path) -> bool:
    """A PNG with something drawn in it (a blank page compresses to ~2 KB)."""
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 8_000


async def test_screenshots_of_the_main_pages(demo: str, browser: Browser) -> None:
    """What each visitor sees at `/`, `/login`, `/edit` and `/whoami`, saved
    as `<visitor>-<page>.png`: anonymous visitors are sent to log in from
    the last two, `user` is refused `/edit` (the 403 page); plus the login
    form after a failed attempt."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    for visitor in ("anonymous", "user", "super_user"):
        context = await browser.new_context(viewport={"width": 900, "height": 640})
        page = await context.new_page()
        if visitor == "anonymous":
            await page.goto(f"{demo}/login")
            await log_in(page, "user", "not-the-password")
            await page.wait_for_selector("#error")
            taken.append(SCREENSHOTS / "anonymous-login-failed.png")
            await page.screenshot(path=taken[-1], full_page=True)
        else:
            await page.goto(f"{demo}/login")
            await log_in(page, visitor, PASSWORDS[visitor])
            await page.wait_for_url(f"{demo}/whoami")
        for name, path in (
            ("home", "/"),
            ("login", "/login"),
            ("edit", "/edit"),
            ("whoami", "/whoami"),
        ):
            await page.goto(f"{demo}{path}")
            taken.append(SCREENSHOTS / f"{visitor}-{name}.png")
            await page.screenshot(path=taken[-1], full_page=True)
        await context.close()
    assert len(taken) == 13
    assert [path.name for path in taken if not is_screenshot(path)] == []


FORGERY = """<!doctype html>
<title>You won a prize</title>
<form id="forged" method="post" action="{action}"></form>
<script>document.getElementById("forged").submit()</script>
"""


@pytest.fixture
async def other_origin() -> AsyncIterator[Callable[[str], str]]:
    """A second origin on this machine (another port of 127.0.0.1: the same
    site, so the demo's SameSite=Lax cookie rides along) serving pages that
    post a form to the demo as soon as they load. Gives `page(action)`."""
    actions: dict[str, str] = {}

    async def forged(request: web.Request) -> web.Response:
        action = actions[request.match_info["name"]]
        return web.Response(
            text=FORGERY.format(action=action), content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/{name}", forged)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    def page(action: str) -> str:
        name = f"p{len(actions)}"
        actions[name] = action
        return f"http://127.0.0.1:{port}/{name}"

    try:
        yield page
    finally:
        await runner.cleanup()


async def test_forms_posted_from_another_origin_are_refused(
    demo: str, browser: Browser, other_origin: Callable[[str], str]
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    # The demo's own forms work (login here; logout at the end).
    await page.goto(f"{demo}/login")
    await log_in(page, "super_user", "super_password")
    await page.wait_for_url(f"{demo}/whoami")
    assert await page.inner_text("#who") == "You are logged in as super_user."

    for action in ("/logout", "/logout-everywhere"):
        async with page.expect_response(f"{demo}{action}") as forged:
            await page.goto(other_origin(f"{demo}{action}"))
        response = await forged.value
        assert response.status == 403
        sent = await response.request.all_headers()
        assert sent.get("sec-fetch-site") == "same-site"
        # Still logged in: the forged form changed nothing.
        await page.goto(f"{demo}/")
        assert await page.inner_text("#who") == "You are logged in as super_user."

    # A forged login (into the attacker's account) is refused as well.
    await page.click("#logout")
    await page.wait_for_url(f"{demo}/")
    async with page.expect_response(f"{demo}/login") as forged_login:
        await page.goto(other_origin(f"{demo}/login"))
    assert (await forged_login.value).status == 403
    assert not [c for c in await context.cookies() if c.get("name") == "AUTH_TKT"]
    await context.close()


async def test_a_device_ended_from_another_is_sent_to_log_in(
    demo: str, browser: Browser
) -> None:
    """Two browsers log in as one user; the laptop ends the phone's session
    on "Your devices" (saved as `user-devices.png`); the phone's next click
    is sent to the login page, never shown the page, never a 500."""
    phone = await browser.new_context(user_agent="Phone browser")
    laptop = await browser.new_context(
        user_agent="Laptop browser", viewport={"width": 1000, "height": 640}
    )
    on_phone, on_laptop = await logged_in(demo, [phone, laptop], "user", "/devices")
    await on_laptop.reload()
    rows = on_laptop.locator("tr.session")
    assert await rows.count() == 2
    current = on_laptop.locator("tr.session.current")
    assert "Laptop browser" in await current.inner_text()
    assert "(this device)" in await current.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "user-devices.png"
    await on_laptop.screenshot(path=shot, full_page=True)
    assert is_screenshot(shot)

    other = on_laptop.locator("tr.session:not(.current)")
    assert "Phone browser" in await other.inner_text()
    await other.locator("button.end-session").click()
    await on_laptop.wait_for_url(f"{demo}/devices")
    assert await on_laptop.locator("tr.session").count() == 1

    statuses: list[int] = []
    on_phone.on("response", lambda response: statuses.append(response.status))
    await on_phone.click("nav >> text=View extra")
    await on_phone.wait_for_url(f"{demo}/login?next=/view_extra")
    assert "You have the" not in await on_phone.content()
    assert statuses[0] in (302, 303)  # sent away before any page is shown
    assert all(status < 500 for status in statuses), statuses
    assert await on_laptop.locator("#who").inner_text() == "You are logged in as user."
    await on_laptop.goto(f"{demo}/view_extra")
    assert "view_extra" in await on_laptop.inner_text("#content")
    await phone.close()
    await laptop.close()


async def test_ending_all_other_devices_keeps_this_one(
    demo: str, browser: Browser
) -> None:
    contexts = [await browser.new_context() for _ in range(3)]
    pages = await logged_in(demo, contexts, "super_user", "/devices")
    await pages[2].reload()
    assert await pages[2].locator("tr.session").count() == 3
    await pages[2].click("#end-others")
    await pages[2].wait_for_url(f"{demo}/devices")
    assert await pages[2].locator("tr.session").count() == 1
    for page in pages[:2]:
        await page.goto(f"{demo}/edit")
        assert page.url == f"{demo}/login?next=/edit"
    assert await status(pages[2], f"{demo}/edit") == 200
    for context in contexts:
        await context.close()


async def test_the_api_token_page_gives_a_token_the_api_takes(
    demo: str, browser: Browser
) -> None:
    context = await browser.new_context()
    (page,) = await logged_in(demo, [context], "user", "/api-token")
    token = (await page.locator("#token").inner_text()).strip()
    assert token.count(".") == 2
    # The curl command the page shows, as an API client sends it.
    request = context.request
    answer = await request.get(
        f"{demo}/api/notes", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status == 200
    assert (await answer.json())["user"] == "user"
    # The browser itself, with its cookie only, holds no notes:read scope.
    assert await status(page, f"{demo}/api/notes") == 403
    await context.close()
