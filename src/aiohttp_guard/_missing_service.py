"""Where a guard runs without a service: the note that says which route.

The `RuntimeError` a guard raises without a service names the fix; the
decorator and the view that ran the guard know the route, so they add it
as a note (printed under the error in the server's log), with the check
that finds every such route before the app serves.
"""

from __future__ import annotations

from aiohttp import web

from ._compat import request_get
from ._guard_names import describe
from .authenticator import SERVICE
from .request_state import STATE

__all__ = ["note_missing_service"]


def note_missing_service(
    error: RuntimeError, request: web.Request, guard: object
) -> None:
    """Add the route and `guard` to `error` when no service is in charge of
    `request` (nothing to add when one is: its error says what is wrong)."""
    if request_get(request, STATE) is not None or SERVICE in request.config_dict:
        return
    resource = request.match_info.route.resource
    route = "<unmatched>" if resource is None else resource.canonical
    error.add_note(
        f"{request.method} {route} is guarded by {describe(guard)}, and no "
        "AuthService is set up on its application or on any it is mounted "
        "in. aiohttp_guard.check_app(app) finds every such route before the "
        "app serves (python -m aiohttp_guard routes module:factory too)."
    )
