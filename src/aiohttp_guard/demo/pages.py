"""The demo's HTML: one layout and a few small pages. Everything shown is
escaped; the look is in `static/demo.css`."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import TypeVar

from yarl import URL

from aiohttp_guard import Decision, LoginSession

__all__ = [
    "STYLESHEET",
    "decisions_table",
    "devices_page",
    "forbidden_page",
    "layout",
    "login_page",
    "throttled_page",
    "unavailable_page",
]

P = TypeVar("P", bound=str)

#: Where the demo serves its stylesheet (a public static route).
STYLESHEET = "/static/demo.css"

_PAGES = (
    ("/", "Home"),
    ("/view", "View"),
    ("/view_extra", "View extra"),
    ("/edit", "Edit"),
    ("/whoami", "Who am I"),
    ("/devices", "Your devices"),
    ("/api-token", "API token"),
)


def layout(title: str, body: str, user_id: str | None, *, known: bool = True) -> str:
    """A page for `user_id` (None: anonymous). `known=False` when the page
    does not look the user up (the login form), and so says nothing about it."""
    links = "".join(f'<a href="{href}">{name}</a>' for href, name in _PAGES)
    if user_id is None:
        account = '<a class="end" href="/login">Log in</a>'
        who = "You are not logged in."
    else:
        account = (
            '<form method="post" action="/logout">'
            '<button class="link end" id="logout">Log out</button></form>'
            '<form method="post" action="/logout-everywhere">'
            '<button class="link" id="logout-everywhere">Log out everywhere</button>'
            "</form>"
        )
        who = f"You are logged in as {escape(user_id)}."
    line = f'<p id="who">{who}</p>' if known else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · aiohttp_guard demo</title>
<link rel="stylesheet" href="{STYLESHEET}"></head>
<body>
<nav>{links}{account}</nav>
{line}
<h1>{escape(title)}</h1>
{body}
</body></html>"""


def decisions_table(decisions: Iterable[Decision[P]], *, links: bool) -> str:
    """One row per decision: the permission (a link to its page when `links`),
    allowed or denied, and the entry of the ACL that decided."""
    rows: list[str] = []
    for decision in decisions:
        name = escape(decision.permission)
        shown = f'<a href="/{name}">{name}</a>' if links else f"<code>{name}</code>"
        verdict = "allowed" if decision.allowed else "denied"
        rows.append(
            f'<tr id="decision-{name}"><td>{shown}</td>'
            f'<td class="{verdict}">{verdict}</td><td>{_why(decision)}</td></tr>'
        )
    head = "Page" if links else "Permission"
    return (
        f'<table id="decisions"><thead><tr><th>{head}</th><th>Access</th>'
        f"<th>Deciding entry</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _why(decision: Decision[P]) -> str:
    if decision.principals is None:
        return '<span class="muted">this user is denied everything</span>'
    if decision.entry is None:
        return '<span class="muted">no entry matches: denied by default</span>'
    return f"{decision.index}: <code>{escape(repr(decision.entry))}</code>"


def login_page(next_url: str, error: str | None, username: str = "") -> str:
    """The login form; after a failed login it says so and keeps `username`."""
    message = (
        "" if error is None else f'<p class="error" id="error">{escape(error)}</p>'
    )
    action = escape(str(URL("/login").with_query(next=next_url)))
    # After a failure the password is what to type again.
    focus = ("", " autofocus") if username else (" autofocus", "")
    return layout(
        "Log in",
        f"""{message}
<form class="login" method="post" action="{action}">
<label for="username">User</label>
<input name="username" id="username" autocomplete="username"
  value="{escape(username)}"{focus[0]}>
<label for="password">Password</label>
<input name="password" id="password" type="password"
  autocomplete="current-password"{focus[1]}>
<button class="primary" id="submit">Log in</button>
</form>
<p class="muted">Try <code>user</code> / <code>password</code> or
<code>super_user</code> / <code>super_password</code>.</p>""",
        None,
        known=False,
    )


def devices_page(sessions: Iterable[LoginSession], current: str | None) -> str:
    """The user's login sessions, newest first, the request's own marked
    (`current`: its id), each with a button that ends it, and one that ends
    all the others."""
    rows: list[str] = []
    for session in sessions:
        mine = session.id == current
        what = (
            "Logins from before sessions"
            if session.earlier_logins
            else (
                escape(session.user_agent)
                or '<span class="muted">unknown browser</span>'
            )
        )
        marker = ' <strong class="current">(this device)</strong>' if mine else ""
        end = (
            ""
            if mine
            else '<form method="post" action="/devices/end">'
            f'<input type="hidden" name="id" value="{escape(session.id)}">'
            '<button class="link end-session">End</button></form>'
        )
        rows.append(
            f'<tr class="session{" current" if mine else ""}">'
            f"<td>{what}{marker}</td><td>{escape(session.policy)}</td>"
            f"<td>{escape(session.address or '')}</td>"
            f"<td>{session.created:%Y-%m-%d %H:%M} UTC</td>"
            f"<td>{session.last_seen:%Y-%m-%d %H:%M} UTC</td><td>{end}</td></tr>"
        )
    return (
        "<p>Where you are logged in. End a session you do not recognise, or "
        "that of a device you lost: it is logged out at its next click.</p>"
        '<table id="devices"><thead><tr><th>Device</th><th>Kind</th>'
        "<th>Address</th><th>Logged in</th><th>Last seen</th><th></th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
        '<form method="post" action="/devices/end-others">'
        '<button class="primary" id="end-others">End all other sessions</button>'
        "</form>"
    )


def forbidden_page(reason: str, user_id: str | None) -> str:
    """Only logged-in users are refused with 403; the others log in first."""
    return layout(
        "Forbidden",
        f'<p id="forbidden">You may not see this page: {escape(reason)}.</p>'
        '<p><a href="/">See which pages you may open</a></p>',
        user_id,
    )


def unavailable_page() -> str:
    """Who the visitor is cannot be checked now (the demo's Redis is down)."""
    return layout(
        "Temporarily unavailable",
        '<p id="unavailable">Logins cannot be checked right now: the session '
        "store does not answer. Try again in a few seconds.</p>",
        None,
        known=False,
    )


def throttled_page(retry_after: int) -> str:
    """Too many failed logins for the account or from the address: when to
    try again, the same for known and unknown accounts."""
    unit = "second" if retry_after == 1 else "seconds"
    return layout(
        "Too many attempts",
        '<p class="error" id="throttled">Too many failed logins. Try again in '
        f'<span id="wait">{retry_after}</span> {unit}.</p>'
        '<p><a href="/login">Back to the login form</a></p>',
        None,
        known=False,
    )
