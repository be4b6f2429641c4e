"""How a refused request is answered: 401/403, a login redirect, or problem+json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Final, Literal, Protocol

import attrs
from aiohttp import hdrs, web
from yarl import URL

from ._fifo_cache import FifoCache
from .redirects import is_safe_next

__all__ = ["DefaultErrorHandler", "ErrorHandler", "preferred_format"]

PROBLEM_JSON = "application/problem+json"


class ErrorHandler(Protocol):
    """Builds the answer to a refused request; the guard raises what it returns.

    Implement every method (or subclass `DefaultErrorHandler`) and pass the
    object as `AuthService(..., error_handler=...)`.
    """

    def unauthenticated(
        self, request: web.Request, challenge: str | None
    ) -> web.HTTPException:
        """No (valid, fresh enough) identity. `challenge` is the policy's
        `WWW-Authenticate` value."""
        ...

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        """An identity, but not the permission."""
        ...

    def unavailable(self, request: web.Request) -> web.HTTPException:
        """Identity cannot be checked now (the revocation store is down)."""
        ...

    def too_many_requests(
        self, request: web.Request, retry_after: int
    ) -> web.HTTPException:
        """Too many failed logins (`LoginThrottle`): the client may try again
        in `retry_after` seconds, which the answer should say in its
        `Retry-After` header."""
        ...


def preferred_format(accept: str) -> Literal["html", "json"] | None:
    """Whether an `Accept` header prefers HTML or JSON (None: neither asked for).

    Quality values count (`text/html;q=0.1, application/json` prefers JSON);
    error handlers of your own can answer browsers and API clients as the
    default one does."""
    best: Literal["html", "json"] | None = None
    best_q = 0.0
    for item in accept.split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        kind: Literal["html", "json"] | None
        if media in ("text/html", "application/xhtml+xml"):
            kind = "html"
        elif media == "application/json" or media.endswith("+json"):
            kind = "json"
        else:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:
            best, best_q = kind, q
    return best


#: `preferred_format` answers by Accept header: a client sends the same
#: header with each request, and reading a browser's takes 2.6 us of every
#: refusal it gets, a look-up 0.04 (2026-12-01). Bounded, as the headers are
#: the client's to choose; longer ones are read each time.
_PREFERRED: Final[FifoCache[str, Literal["html", "json"] | None]] = FifoCache(256)
_MAX_REMEMBERED_ACCEPT: Final = 512


def _preferred(request: web.BaseRequest) -> Literal["html", "json"] | None:
    accept = request.headers.get(hdrs.ACCEPT)
    if not accept:
        return None
    if len(accept) > _MAX_REMEMBERED_ACCEPT:
        return preferred_format(accept)
    try:
        return _PREFERRED[accept]
    except KeyError:
        return _PREFERRED.put(accept, preferred_format(accept))


def problem(
    exc_type: type[web.HTTPException], detail: str, headers: Mapping[str, str]
) -> web.HTTPException:
    """An RFC 9457 problem+json answer of the given HTTP error class."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(exc_type.status_code).phrase,
        "status": exc_type.status_code,
        "detail": detail,
    }
    return exc_type(headers=headers, text=json.dumps(body), content_type=PROBLEM_JSON)


@attrs.frozen
class DefaultErrorHandler:
    """401 with the policy's challenge, 403 with the reason, 503 when identity
    cannot be checked, 429 with `Retry-After` for a throttled login; JSON
    clients get problem+json bodies.

    Args:
        login_url: Where browsers (clients preferring HTML) that must log in
            are redirected instead of a 401, with the page they asked for as
            `next` when it was a GET. Default: none.
    """

    login_url: str | None = None

    def unauthenticated(
        self, request: web.Request, challenge: str | None
    ) -> web.HTTPException:
        wants = _preferred(request)
        if (
            self.login_url is not None
            and wants == "html"
            # Sent to the login page from the login page: a loop, answered 401.
            and not is_login_page(request, self.login_url)
        ):
            return web.HTTPFound(self._login_location(request, self.login_url))
        headers: dict[str, str] = {}
        if challenge is not None:
            headers[hdrs.WWW_AUTHENTICATE] = challenge
        detail = "Authentication is required."
        if wants == "json":
            return problem(web.HTTPUnauthorized, detail, headers)
        return web.HTTPUnauthorized(headers=headers, text=detail)

    def forbidden(self, request: web.Request, reason: str) -> web.HTTPException:
        if _preferred(request) == "json":
            return problem(web.HTTPForbidden, reason, {})
        return web.HTTPForbidden(reason=_header_safe(reason), text=reason)

    def unavailable(self, request: web.Request) -> web.HTTPException:
        detail = "Authentication is temporarily unavailable; try again shortly."
        headers = {str(hdrs.RETRY_AFTER): "5"}
        if _preferred(request) == "json":
            return problem(web.HTTPServiceUnavailable, detail, headers)
        return web.HTTPServiceUnavailable(headers=headers, text=detail)

    def too_many_requests(
        self, request: web.Request, retry_after: int
    ) -> web.HTTPException:
        detail = f"Too many failed logins; try again in {retry_after} seconds."
        headers = {str(hdrs.RETRY_AFTER): str(retry_after)}
        if _preferred(request) == "json":
            return problem(web.HTTPTooManyRequests, detail, headers)
        return web.HTTPTooManyRequests(headers=headers, text=detail)

    @staticmethod
    def _login_location(request: web.Request, login_url: str) -> str:
        url = URL(login_url)
        here = request.rel_url.raw_path_qs
        if request.method in (hdrs.METH_GET, hdrs.METH_HEAD) and is_safe_next(here):
            url = url.update_query(next=here)
        return str(url)


def is_login_page(request: web.BaseRequest, login_url: str) -> bool:
    """Whether `request` is for the page at `login_url` (on this host, when
    the URL names one). Scheme and port are left out: behind a proxy that
    ends TLS, the app sees http and another port than the URL says."""
    url = URL(login_url)
    if url.is_absolute():
        try:
            host = request.url.host
        except ValueError:  # a Host header that is no host
            return False
        if url.host != host:
            return False
    return request.path == url.path


_REFUSAL_MARK: Final = "_aiohttp_guard_refusal"
_REASON: Final = "_aiohttp_guard_reason"


def refusal(exc: web.HTTPException, reason: str | None) -> web.HTTPException:
    """Mark `exc` as the service's answer to a refused request, which the
    service's middleware returns as a response instead of raising it on.

    An HTTPException that reaches aiohttp stays in a reference cycle with its
    traceback (aiohttp keeps it as the response in a frame the traceback
    holds), freed only by the garbage collector, whose pauses were most of a
    refusal's latency: a 403 answered this way takes 19 us in process, with
    a 99th percentile of 34 us, against 21 us and 109 us raised to aiohttp
    (as benchmarks.inprocess, 2026-11-30). The mark is an attribute, not a
    registry, so that it never keeps the exception alive itself. `reason`
    is what the audit log says about it; None when the caller logs the
    refusal itself (the login throttle, on its own audit logger).
    """
    setattr(exc, _REFUSAL_MARK, True)
    return exc if reason is None else audited(exc, reason)


def is_refusal(exc: web.HTTPException) -> bool:
    return getattr(exc, _REFUSAL_MARK, False) is True


def audited(exc: web.HTTPException, reason: str) -> web.HTTPException:
    """Mark `exc`, raised by a guard, for the audit log with `reason`; the
    middleware logs it once, when it answers the request."""
    setattr(exc, _REASON, reason)
    return exc


def take_refusal_reason(exc: web.HTTPException) -> str | None:
    """Why a guard refused the request with `exc` (None when no guard did),
    taken off it: a refusal raised on through a sub-application's service
    to its parent's is logged by the first only."""
    reason = getattr(exc, _REASON, None)
    if not isinstance(reason, str):
        return None
    setattr(exc, _REASON, None)
    return reason


def refusal_response(exc: web.HTTPException) -> web.Response:
    """A plain response saying what the refusal `exc` says: status, reason,
    headers, body and cookies. The middleware returns it rather than raise."""
    response = web.Response(
        status=exc.status, reason=exc.reason, headers=exc.headers, body=exc.body
    )
    for name, morsel in exc.cookies.items():
        response.cookies[name] = morsel
    return response


#: Control characters a reason phrase may not hold (RFC 9112 allows tab,
#: space, visible ASCII and Latin-1's upper half): with one of them in its
#: status line, a client drops the connection instead of reading the 403.
_NOT_IN_REASON: Final = dict.fromkeys([*range(0x09), *range(0x0A, 0x20), 0x7F], "?")


def _header_safe(text: str) -> str:
    """A reason phrase must be one line of Latin-1 without control
    characters; keep what fits, with a "?" for each character that does
    not."""
    if text.isascii() and text.isprintable() and text:
        return text  # the common reason, as it is: no list, no copies
    line = text.splitlines()[0] if text else "Forbidden"
    return line.translate(_NOT_IN_REASON).encode("latin-1", "replace").decode("latin-1")
