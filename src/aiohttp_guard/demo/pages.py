"""The demo's HTML: one layout and a few small pages. Everything shown is
escaped."""

from __future__ import annotations

from html import escape

from yarl import URL

__all__ = ["forbidden_page", "layout", "login_page", "unavailable_page"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
nav a, nav button { margin-right: .8rem; }
form.inline { display: inline; }
.error { color: #a00; }
code, pre { background: #f4f4f4; padding: .1rem .3rem; }
"""


def layout(
    title: str, body: str, user_id: str | None, *, logged_in: bool | None = None
) -> str:
    """A page; `logged_in` defaults to whether `user_id` is known."""
    logged_in = user_id is not None if logged_in is None else logged_in
    who = "not logged in"
    if logged_in:
        who = "logged in" if user_id is None else f"logged in as {escape(user_id)}"
    logout = (
        ""
        if not logged_in
        else '<form class="inline" method="post" action="/logout">'
        '<button id="logout">Log out</button></form>'
        '<form class="inline" method="post" action="/logout-everywhere">'
        '<button id="logout-everywhere">Log out everywhere</button></form>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<nav><a href="/">Home</a><a href="/view">View</a><a href="/view_extra">View extra</a>
<a href="/edit">Edit</a><a href="/whoami">Who am I</a>
{"" if logged_in else '<a href="/login">Log in</a>'}{logout}</nav>
<p id="who">You are {who}.</p>
<h1>{escape(title)}</h1>
{body}
</body></html>"""


def login_page(next_url: str, error: str | None) -> str:
    message = (
        "" if error is None else f'<p class="error" id="error">{escape(error)}</p>'
    )
    action = escape(str(URL("/login").with_query(next=next_url)))
    return layout(
        "Log in",
        f"""{message}
<form method="post" action="{action}">
<p><label>User <input name="username" id="username" autocomplete="username"></label></p>
<p><label>Password <input name="password" id="password" type="password"
   autocomplete="current-password"></label></p>
<p><button id="submit">Log in</button></p>
</form>
<p>Try <code>user</code> / <code>password</code> or
<code>super_user</code> / <code>super_password</code>.</p>""",
        None,
    )


def forbidden_page(reason: str) -> str:
    """Only logged-in users are refused with 403; the others log in first."""
    return layout(
        "Forbidden",
        f'<p id="forbidden">You may not see this page: {escape(reason)}.</p>',
        None,
        logged_in=True,
    )


def unavailable_page() -> str:
    """Who the visitor is cannot be checked now (the demo's Redis is down)."""
    return layout(
        "Temporarily unavailable",
        '<p id="unavailable">Logins cannot be checked right now: the session '
        "store does not answer. Try again in a few seconds.</p>",
        None,
    )
