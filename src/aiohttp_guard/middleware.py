"""The service's middleware: one request from its context to its response.

For each request it makes the request's `RequestContext`, runs the service's
default guard where the route has no guard of its own, runs the handler,
answers refusals, and writes what the request changed about its ticket into
the response: a login, a logout, or a renewal confirmed only now.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from ._compat import request_get
from ._routes import RouteDecisions
from .audit import audit, audit_enabled
from .authenticator import Authenticator
from .cross_origin import SAFE_METHODS, CrossOriginProtection, is_csrf_exempt
from .guards import Guard
from .refusals import is_refusal, refusal, refusal_response, take_refusal_reason
from .request_context import RequestContext
from .request_state import STATE

__all__ = ["make_middleware"]


def make_middleware(
    authenticator: Authenticator,
    default: Guard[Any] | None,
    routes: RouteDecisions,
    cross_origin: CrossOriginProtection | None = None,
) -> Middleware:
    """The middleware of a service: `authenticator` checks its requests,
    `default` guards the routes that `routes` finds without guards, and
    `cross_origin` refuses the unsafe requests other sites' pages forged."""

    @web.middleware
    async def auth_middleware(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        # A sub-application's service runs inside another one's: its context
        # stands in for the outer one while its part of the request runs.
        outer = request_get(request, STATE)
        request[STATE] = context = RequestContext(request, authenticator, outer)
        # What was written before the handler ran (aiohttp 3.9-3.10.0 leave
        # an `Expect: 100-continue` answer counted), to tell a response the
        # handler began from it.
        written = output_size(request)
        try:
            try:
                match_info = request.match_info
                if cross_origin is not None and (
                    request.method not in SAFE_METHODS
                    or hdrs.UPGRADE in request.headers
                ):
                    # A 404 or 405 too: a middleware may answer it itself.
                    check_origin(cross_origin, authenticator, request, match_info)
                # A 404 or 405 (a match info with an `http_exception`) has no
                # route to decide for. Deciding also refuses (500) a route
                # whose class guards would not run, so it comes first: its
                # refusal holds without a default guard. Not an isinstance of
                # MatchInfoError: an ABC check, 0.25 us more (2026-12-01).
                if (
                    match_info.http_exception is None
                    and routes.needs_default(match_info.route, request.method)
                    and default is not None
                ):
                    await default(request)
                response = await handler(request)
                raised = None
            except web.HTTPException as exc:
                response, raised = answer(context, exc, written)
            except Exception:
                context.abandon_login()  # no response will carry its ticket
                raise
            # What the request changed about its ticket goes into the
            # response: a login, a logout, a renewal confirmed only now.
            # Inline rather than a coroutine of its own, which cost 0.3 us
            # of every request (benchmarks.inprocess, 2026-12-01).
            if context.renewal is not None:
                await confirm_renewal(context, response)
            try:
                await authenticator.policy.process_response(request, response)
            except Exception:
                context.abandon_login()  # no response carries its ticket
                raise
            if context.ticket_changed:  # a login or a logout
                # A login is recorded now that its response carries the
                # ticket; when the registry cannot record it, a 503 goes out
                # instead.
                if context.login_pending and not await context.record_login():
                    response = refusal_response(authenticator.unavailable(request))
                    raised = None
                keep_private(response)
            context.finished = True  # too late now to change the ticket
            if raised is not None:
                raise raised
            return response
        finally:
            # An outer service's context is given back. A bare state (from
            # the acl layer or a policy used before any service) is not:
            # it stays reachable as this context's `outer`, and middlewares
            # listed before this one still find who the request came from.
            if isinstance(outer, RequestContext):
                request[STATE] = outer

    return auth_middleware


def answer(
    context: RequestContext, exc: web.HTTPException, written: int
) -> tuple[web.StreamResponse, web.HTTPException | None]:
    """The response to an `HTTPException` the handler or a guard raised, and
    the exception to raise on once the ticket is written into it, if any. A
    guard's refusal is answered here, not raised on to aiohttp (see
    `refusals.refusal`); any other (a redirect after login) is raised on,
    carrying the cookie like a response. `written` is the `output_size`
    from before the handler ran."""
    reason = take_refusal_reason(exc)
    if reason is not None:
        audit_refusal(context, exc, reason)
    if not is_refusal(exc):
        return exc, exc
    request = context.request
    if output_size(request) > written:  # the handler's response began
        close_connection(request)
    return refusal_response(exc), None


def output_size(request: web.Request) -> int:
    """The bytes written for `request` so far: more once a handler began
    its own response (a `StreamResponse` it prepared)."""
    size = getattr(request.writer, "output_size", 0)
    # An int: a mocked request's writer (aiohttp's make_mocked_request) is a
    # Mock, whose attributes are Mocks.
    return size if isinstance(size, int) else 0


def close_connection(request: web.Request) -> None:
    """End a response begun before its refusal: the refusal cannot follow
    it on the wire (its status line would land inside the first response's
    body), so the connection closes on what was sent, as aiohttp's own
    answer to an error after a response began; the client sees the
    response cut short. aiohttp then finds the connection closed, and sends
    nothing more."""
    transport = request.transport
    if transport is not None:
        transport.close()


def check_origin(
    protection: CrossOriginProtection,
    authenticator: Authenticator,
    request: web.Request,
    match_info: web.UrlMappingMatchInfo,
) -> None:
    """Refuse (403, through the service's error handler) an unsafe request
    that another site's page made a browser send, before any guard or the
    handler runs, unless its route is `csrf_exempt`."""
    why = protection.check(request)
    if why is None or (
        match_info.http_exception is None
        and is_csrf_exempt(match_info.route.handler, request.method)
    ):
        return
    raise refusal(
        authenticator.error_handler.forbidden(
            request,
            "Cross-origin request refused: this action must be sent from this "
            "site's own pages.",
        ),
        why,
    )


async def confirm_renewal(
    context: RequestContext, response: web.StreamResponse
) -> None:
    """Refuse the renewal a policy asked for unless `response` is a success
    that may carry it and the ticket is still valid now."""
    if (
        200 <= response.status < 300
        and not response.prepared
        and (
            # A renewal nobody asked for waits for a response that no
            # shared cache may store with the ticket in it.
            shared_cacheable(response) or not await context.renewal_still_valid()
        )
    ):
        context.renewal_refused = True


def audit_refusal(context: RequestContext, exc: web.HTTPException, reason: str) -> None:
    """Log a guard's refusal once: at INFO, which Python's logging leaves off
    until the application turns it on (a WARNING would build a log record
    for every 403, doubling its cost: benchmarks.inprocess, 2026-12-01); a
    503 (the revocation store is down) at WARNING."""
    status = exc.status
    level = logging.WARNING if status == 503 else logging.INFO
    if not audit_enabled("refusal", level):
        return  # nothing built for a log that is off
    audit(
        "refusal",
        level,
        f"refused with {status}: {reason}",
        context.request,
        user_id=context.known_user_id,
        status=status,
        reason=reason,
    )


def keep_private(response: web.StreamResponse) -> None:
    """Keep a response that sets or clears a ticket from shared caches,
    which must never hand one user's ticket to another."""
    if not response.prepared and hdrs.CACHE_CONTROL not in response.headers:
        response.headers[hdrs.CACHE_CONTROL] = "no-store"


def shared_cacheable(response: web.StreamResponse) -> bool:
    """Whether the handler let shared caches store `response`: it set
    Cache-Control without `private` or `no-store`."""
    value = response.headers.get(hdrs.CACHE_CONTROL)
    if value is None:
        return False
    directives = {d.split("=", 1)[0].strip().lower() for d in value.split(",")}
    return not directives & {"private", "no-store"}
