"""Audit logging: who logged in or out, who was refused and why, what the
revocation store did, on the `aiohttp_guard.audit` loggers.

One logger per kind of event (`aiohttp_guard.audit.login`, `.refusal`, ...),
so that an application can turn each on, off or up on its own. Each event is
logged once, as one record whose `extra` fields (`event`, `user_id`,
`method`, `route`, `client`, and the event's own) JSON formatters pick up.
Nothing secret is logged: no ticket, cookie, header, query string or
password, and routes are named by their template (`/reset/{token}`), not by
the path a client sent.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web

__all__ = ["AUDIT_LOGGER", "UNMATCHED", "audit", "audit_enabled", "route_of"]

#: The parent of every audit logger.
AUDIT_LOGGER: Final = "aiohttp_guard.audit"

_LOGGERS: Final = {
    kind: logging.getLogger(f"{AUDIT_LOGGER}.{kind}")
    for kind in (
        "login",
        "logout",
        "logout_everywhere",
        "revoked",
        "session_end",
        "session_ended",
        "session_evicted",
        "refusal",
        "renewal",
        "legacy_conversion",
        "store",
        "throttle",
    )
}


# Without a logging configuration Python prints WARNING and up to stderr: a
# line per 503 of a store outage would flood it. Refusals show once the
# application configures logging (a handler anywhere up the chain); store
# outages show regardless. The login throttle's refusals likewise.
_LOGGERS["refusal"].addHandler(logging.NullHandler())
_LOGGERS["throttle"].addHandler(logging.NullHandler())


def audit(
    kind: str,
    level: int,
    message: str,
    request: web.BaseRequest | None = None,
    *,
    user_id: str | None = None,
    **fields: object,
) -> None:
    """Log one `kind` event: `message` for people, `fields` (with the
    request's method, route and client address) for machines. Costs one
    level check when the logger is off."""
    logger = _LOGGERS[kind]
    if not logger.isEnabledFor(level):
        return
    extra: dict[str, object] = {"event": kind, "user_id": user_id}
    if request is not None:
        extra["method"] = request.method
        extra["route"] = route_of(request)
        extra["client"] = request.remote
    extra.update(fields)
    where = "" if request is None else f" [{extra['method']} {extra['route']}]"
    logger.log(level, "%s%s", message, where, extra=extra)


def audit_enabled(kind: str, level: int) -> bool:
    """Whether a `kind` event at `level` would be logged: for the events
    whose fields cost work to find."""
    return _LOGGERS[kind].isEnabledFor(level)


#: What `route_of` says of a request that matched no route (a 404, a 405).
UNMATCHED: Final = "<unmatched>"


def route_of(request: web.BaseRequest) -> str:
    """The template of the route `request` matched (`/notes/{id}`), never the
    path the client sent: that may hold a secret (`/reset/<token>`) or forge
    log lines (a decoded newline). `UNMATCHED` when it matched none."""
    match_info = getattr(request, "match_info", None)
    if match_info is not None and match_info.http_exception is None:
        resource = match_info.route.resource
        if resource is not None:
            canonical: str = resource.canonical
            return canonical
    return UNMATCHED
