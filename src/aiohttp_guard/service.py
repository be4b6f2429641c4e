"""`AuthService`: the one object an app holds to know who its users are.

It installs itself on an app (its middleware, its startup checks), reports
which guard protects which route, and offers the request-level API (who is
this, log in, log out, may they) over each request's `RequestContext`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, Final, TypeVar, overload

from aiohttp import web

from ._revocation_check import RevocationCheck
from ._routes import (
    RouteDecisions,
    RouteGuard,
    absolute_login_url_warning,
    guarded_login_routes,
    login_path_of,
    routes_report,
)
from .access_control import Decision
from .audit import audit
from .authenticator import SERVICE, Authenticator, GroupResolver, Groups
from .contexts import (
    AnyContextFactory,
    Context,
    ContextFactory,
    ContextValue,
    resolve_context,
)
from .cross_origin import DEFAULT_PROTECTION, CrossOriginProtection
from .guards import Guard
from .identity import Identity
from .login_sessions import (
    EARLIER_LOGINS,
    LoginSession,
    SessionRegistry,
    SessionsUnavailable,
)
from .middleware import make_middleware
from .policies.base import AbstractAuthentication
from .policies.chain import PolicyChain
from .refusals import DefaultErrorHandler, ErrorHandler
from .request_context import RequestContext
from .revocation import RevocationStore

__all__ = ["AuthService", "GroupResolver", "Groups", "service_on"]

log = logging.getLogger("aiohttp_guard")

P = TypeVar("P", bound=Hashable)


class AuthService(Authenticator):
    """Owns the authentication policy, the group resolver, the revocation
    store and the way refusals are answered. Create one per app and call
    `setup(app)`; handlers and guards find it with `AuthService.of(request)`.

    Args:
        policy: Where identities are kept between requests. A list of
            policies is tried in order (cookies for browsers, bearer tokens
            for API clients).
        groups: Resolves a user id (None when anonymous) to the user's
            groups, sync or async. Default: no groups.
        default: Guards every route that has no guard of its own
            (`Public()` opens one). Default: none.
        revocations: Keeps `logout_everywhere` times. Default: in this
            process's memory; a `RedisRevocationStore` for several instances.
        login_url: Sends browsers that need to log in there (with a `next`
            parameter) instead of answering 401. Default: none.
        error_handler: Replaces the default answers to refused requests
            altogether. Default: a `DefaultErrorHandler`.
        csrf: Refuses the unsafe requests (POST, PUT, DELETE, ...) that
            another site's page made a browser send, before any guard or
            handler runs; `None` turns it off. Default: a
            `CrossOriginProtection()` trusting no other origin.
        sessions: Records every login as a session its user can list and
            end (`sessions`, `end_session`). Default: a
            `MemorySessionRegistry()` (one process); a
            `RedisSessionRegistry` for several instances.
    """

    def __init__(
        self,
        policy: AbstractAuthentication | Sequence[AbstractAuthentication],
        *,
        groups: GroupResolver | None = None,
        default: Guard[Any] | None = None,
        revocations: RevocationStore | None = None,
        login_url: str | None = None,
        error_handler: ErrorHandler | None = None,
        csrf: CrossOriginProtection | None = DEFAULT_PROTECTION,
        sessions: SessionRegistry | None = None,
    ) -> None:
        if isinstance(policy, list | tuple):
            policy = PolicyChain(policy)
        if not isinstance(policy, AbstractAuthentication):
            raise TypeError(
                "AuthService needs an authentication policy such as "
                f"CookieTicketPolicy, not {type(policy).__name__}"
            )
        # Untyped callers: `csrf=True` must not read as "on" and be ignored.
        if csrf is not None and not isinstance(csrf, CrossOriginProtection):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                "csrf takes a CrossOriginProtection, or None to turn it off, "
                f"not {type(csrf).__name__}"
            )
        if login_url is not None and error_handler is not None:
            raise ValueError(
                "give login_url to the error handler, not to AuthService as well"
            )
        super().__init__(
            policy,
            groups=groups,
            revocations=revocations,
            error_handler=error_handler or DefaultErrorHandler(login_url=login_url),
            sessions=sessions,
        )
        self.default = default
        #: The service's cross-origin protection (None when turned off).
        self.csrf: Final = csrf
        self._routes = RouteDecisions(login_path_of(_login_url(self.error_handler)))
        self.middleware: Final = make_middleware(self, default, self._routes, csrf)

    def __repr__(self) -> str:
        return f"AuthService({self.policy!r})"

    # -- installation ------------------------------------------------------

    def setup(self, app: web.Application) -> None:
        """Store the service on `app` and append its middleware, so middlewares
        given to `web.Application(middlewares=...)` (sessions) run first."""
        if SERVICE in app:
            raise RuntimeError("this app already has an AuthService")
        app[SERVICE] = self
        app.middlewares.append(self.middleware)
        app.on_startup.append(self._check_login_page)
        app.on_startup.append(self._log_routes)
        # Before the startup of any sub-application, even one added before
        # this call, so that stores are shared from the outermost service in:
        # a nested service takes the store it will keep for good.
        app.on_startup.insert(0, self._share_revocations)
        app.on_startup.append(self._open_revocations)
        app.on_startup.append(self._open_sessions)
        app.on_cleanup.append(self._close_revocations)
        app.on_cleanup.append(self._close_sessions)

    async def _open_revocations(self, app: web.Application) -> None:
        """A store that can be opened (`RedisRevocationStore` starts its epoch
        before the first login) is opened at startup; one that cannot be
        reached yet opens on first use and fails closed meanwhile."""
        await _open_if_it_opens(self.revocations, self.revocation)

    async def _close_revocations(self, app: web.Application) -> None:
        """A store that was opened is closed again at cleanup (a
        `RedisRevocationStore` stops following Redis)."""
        await _close_if_it_closes(self.revocations)

    async def _open_sessions(self, app: web.Application) -> None:
        """A session registry that can be opened (`RedisSessionRegistry`
        starts following Redis) is opened at startup, like the revocation
        store."""
        check = self.sessions_check
        await _open_if_it_opens(check.registry, check.ends)

    async def _close_sessions(self, app: web.Application) -> None:
        """A session registry that was opened is closed again at cleanup."""
        await _close_if_it_closes(self.sessions_check.registry)

    async def _share_revocations(self, app: web.Application) -> None:
        """A sub-application's service that accepts this service's tickets
        must refuse the ones revoked here: without a store of its own (or
        given this one) it shares this service's revocations, kept for as
        long as the tickets of either live; a store of its own is a
        warning."""
        own = self.policy.credential_ids()
        for sub in _sub_applications(app):
            nested = service_on(sub)
            if (
                nested is None
                or nested.revocation is self.revocation
                or not own & nested.policy.credential_ids()
            ):
                continue
            if nested.sessions_check is not self.sessions_check:
                if (
                    nested.default_registry
                    or nested.sessions_check.registry is self.sessions_check.registry
                ):
                    nested.share_sessions(self)
                else:
                    log.warning(
                        "aiohttp_guard: %r of a sub-application accepts the "
                        "tickets of %r but keeps login sessions in another "
                        "registry: a session ended in one is not ended in the "
                        "other; give both the same registry",
                        nested,
                        self,
                    )
            if nested.default_store or nested.revocations is self.revocations:
                nested.share_revocations(self)
            else:
                log.warning(
                    "aiohttp_guard: %r of a sub-application accepts the tickets "
                    "of %r but keeps revocations in another store: a "
                    "logout_everywhere in one is not seen by the other; give "
                    "both the same revocations store",
                    nested,
                    self,
                )

    def routes_report(self, app: web.Application) -> list[RouteGuard]:
        """Every route of `app` (sub-applications included) with what guards
        it, so an unguarded route is seen before it ships. Reading it changes
        nothing."""
        return routes_report(
            app,
            self.default,
            self._routes.public,
            self._routes.login_path,
            cross_origin=self.csrf is not None,
        )

    def public(self, target: web.AbstractResource | web.AbstractRoute) -> None:
        """Lift the `default` guard from one route (a GET route's HEAD route
        too) or from every route `target` resource has now, as `Public()` does
        for a handler: for what cannot be decorated, such as
        `app.router.add_static(...)`. Other routes sharing the handler stay
        guarded, and a route's own guards still run."""
        self._routes.open(target)

    async def _check_login_page(self, app: web.Application) -> None:
        """Refuse to start when the login page has guards of its own: the
        browsers sent there to log in would be refused there."""
        warning = absolute_login_url_warning(
            app, _login_url(self.error_handler), self.default, self._routes.public
        )
        if warning is not None:
            log.warning("aiohttp_guard: %s", warning)
        closed = guarded_login_routes(app, self._routes.login_path)
        if closed:
            routes = "; ".join(
                f"{method} {path} is guarded by {' & '.join(guards)}"
                for method, path, guards in closed
            )
            raise RuntimeError(
                f"the login page cannot be guarded: {routes}. Browsers that "
                "must log in are sent there; remove its guard (the service's "
                "default guard leaves the login page open by itself)"
            )

    async def _log_routes(self, app: web.Application) -> None:
        report = self.routes_report(app)
        log.info("aiohttp_guard routes:%s", "".join(f"\n  {route}" for route in report))
        unguarded = [route for route in report if not route.guarded]
        if unguarded:
            log.warning(
                "aiohttp_guard: %d unguarded route(s): %s",
                len(unguarded),
                ", ".join(f"{r.method} {r.path}" for r in unguarded),
            )

    @classmethod
    def of(cls, source: web.Request | web.Application) -> AuthService:
        """The service in charge of `source`, or a `RuntimeError` naming the fix."""
        if isinstance(source, web.Application):
            service = service_on(source)
            if service is None:
                raise RuntimeError(
                    "no AuthService on this application: "
                    "call AuthService(policy).setup(app) first"
                )
            return service
        return _service(RequestContext.of(source).authenticator)

    # -- identity ----------------------------------------------------------

    async def identity(self, request: web.Request) -> Identity | None:
        """The request's `Identity`, resolved once per request.

        A ticket revoked by `logout_everywhere` is forgotten (its cookie
        cleared); when the revocation store cannot be reached, this raises the
        error handler's 503 rather than trust the ticket.
        """
        return await RequestContext.of(request).identity()

    async def user_id(self, request: web.Request) -> str | None:
        """The request's user id, or None for an anonymous request."""
        return await RequestContext.of(request).user_id()

    async def identify(self, request: web.Request) -> str | None:
        """The request's user id: the name `user_id` had before 0.1 (kept
        until 1.0)."""
        return await RequestContext.of(request).user_id()

    async def remember(self, request: web.Request, user_id: str) -> str | None:
        """Log `user_id` in: the response will carry their ticket. Returns
        the token to hand out when the policy stores nothing on the client
        (`BearerTicketPolicy`), else None."""
        if not isinstance(user_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"user_id must be a str, not {type(user_id).__name__}")
        return await RequestContext.of(request).remember(user_id)

    async def forget(self, request: web.Request) -> None:
        """Log the client out: the response will clear their ticket."""
        await RequestContext.of(request).forget()

    async def logout_everywhere(
        self, user_id: str, request: web.Request | None = None
    ) -> None:
        """Reject every ticket of `user_id` issued before now, on every
        instance sharing the revocation store; later logins work at once.

        Pass the current `request` when it is the user's own ("log out of all
        devices", a password change), so that it stops counting as logged in
        too; call `remember` after this to keep them logged in here.
        """
        await self.revocation.revoke(user_id)
        try:
            await self.sessions_check.forget_user(user_id)
        except Exception as exc:  # the tickets are refused all the same
            log.warning(
                "aiohttp_guard: the session records of %r were not removed "
                "after logout_everywhere: %r",
                user_id,
                exc,
            )
        by = None
        if request is not None:
            context = RequestContext.of(request)
            by = context.known_user_id
            context.forget_resolved()
        audit(
            "logout_everywhere",
            logging.INFO,
            f"every ticket of {user_id!r} issued until now was revoked",
            request,
            user_id=user_id,
            by=by,
        )

    # -- login sessions ----------------------------------------------------

    async def sessions(self, user_id: str) -> list[LoginSession]:
        """The live login sessions of `user_id`, newest first (with one
        `EARLIER_LOGINS` entry for the logins made without a session id,
        once one of them has been seen). Raises `SessionsUnavailable` when
        the registry does not answer."""
        try:
            return await self.sessions_check.registry.of_user(user_id)
        except Exception as exc:
            raise SessionsUnavailable() from exc

    async def current_session(self, request: web.Request) -> LoginSession | None:
        """The login session of the request's own credential, or None
        (anonymous, a session with no record, or a provider's token, which
        is in no session)."""
        identity = await self.identity(request)
        if identity is None or identity.sessionless:
            return None
        wanted = identity.session_id or EARLIER_LOGINS
        for session in await self.sessions(identity.user_id):
            if session.id == wanted:
                return session
        return None

    async def end_session(
        self, user_id: str, session_id: str, request: web.Request | None = None
    ) -> bool:
        """End one login session of `user_id` (a lost phone): its tickets
        are refused from now on, on every instance sharing the registry;
        `EARLIER_LOGINS` ends the logins made without a session id. Only a
        session recorded for that user is ended: returns whether one was.
        Raises `SessionsUnavailable` when the registry does not answer."""
        try:
            ended = await self.sessions_check.end(user_id, session_id)
        except Exception as exc:
            raise SessionsUnavailable() from exc
        if ended:
            audit(
                "session_end",
                logging.INFO,
                f"a login session of {user_id!r} was ended",
                request,
                user_id=user_id,
            )
        return ended

    async def end_other_sessions(self, request: web.Request) -> int:
        """End every login session of the request's user but the request's
        own; returns how many recorded ones ended. Raises a `RuntimeError`
        for an anonymous request, and `SessionsUnavailable` when the registry
        does not answer."""
        identity = await self.identity(request)
        if identity is None:
            raise RuntimeError("end_other_sessions needs a logged-in request")
        try:
            count = await self.sessions_check.end_all(
                identity.user_id, keep=identity.session_id or EARLIER_LOGINS
            )
        except Exception as exc:
            raise SessionsUnavailable() from exc
        audit(
            "session_end",
            logging.INFO,
            f"{count} other login sessions of {identity.user_id!r} were ended",
            request,
            user_id=identity.user_id,
        )
        return count

    # -- authorization -----------------------------------------------------

    async def principals(self, request: web.Request) -> frozenset[Hashable] | None:
        """Who the request speaks for: the resolver's groups plus `Everyone`,
        and `AuthenticatedUser`, `User(user_id)` and a `Scope` per scope of
        the credential when logged in; None when the resolver denies the
        user everything. Resolved once per request."""
        return await RequestContext.of(request).principals()

    # Overloaded on the forms of a context, as `contexts` explains.
    @overload
    async def permits(
        self, request: web.Request, permission: P, context: ContextValue[P]
    ) -> Decision[P]: ...
    @overload
    async def permits(
        self, request: web.Request, permission: P, context: ContextFactory[P]
    ) -> Decision[P]: ...
    @overload
    async def permits(
        self, request: web.Request, permission: P, context: AnyContextFactory
    ) -> Decision[P]: ...
    async def permits(
        self, request: web.Request, permission: P, context: Context[P]
    ) -> Decision[P]:
        """Whether the request has `permission` in `context`, without raising."""
        acl = await resolve_context(context, request)
        self.check_group_entries(acl, permission)
        return acl.permits(await RequestContext.of(request).principals(), permission)


async def _open_if_it_opens(store: object, check: RevocationCheck) -> None:
    """Call `store.open()` if it has one; a failure is logged as `check`'s
    store outage (requests fail closed until it answers), not raised."""
    open_store: Callable[[], Any] | None = getattr(store, "open", None)
    if open_store is None:
        return
    try:
        await open_store()
    except Exception as exc:
        check.store_failed(exc, at_startup=True)


async def _close_if_it_closes(store: object) -> None:
    """Call `store.close()` if it has one."""
    close_store: Callable[[], Any] | None = getattr(store, "close", None)
    if close_store is not None:
        await close_store()


def _service(authenticator: Authenticator) -> AuthService:
    """`authenticator` as the `AuthService` it is: every context and app key
    is made by an `AuthService`."""
    if not isinstance(authenticator, AuthService):
        raise TypeError(f"{authenticator!r} is not an AuthService")
    return authenticator


def service_on(app: web.Application) -> AuthService | None:
    """The service `setup` installed on `app` itself, if any."""
    found = app.get(SERVICE)
    return None if found is None else _service(found)


def _sub_applications(app: web.Application) -> Iterator[web.Application]:
    """Every application mounted below `app`, at any depth."""
    for resource in app.router.resources():
        sub = resource.get_info().get("app")
        if isinstance(sub, web.Application):
            yield sub
            yield from _sub_applications(sub)


def _login_url(error_handler: ErrorHandler) -> str | None:
    """The login URL an error handler sends browsers to, if it says one."""
    login_url = getattr(error_handler, "login_url", None)
    return login_url if isinstance(login_url, str) else None
