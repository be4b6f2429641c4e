"""`LoginThrottle`: slows password guessing down to a few tries a minute.

Counts login attempts per account name and per client address in a storage
of the `limits` library (its async strategies), and refuses with 429 and
`Retry-After` once either allowance is spent, through the service's error
handler like a guard's refusal.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
import unicodedata
from collections.abc import Awaitable
from typing import Final, Literal, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from ._compat import request_get
from .audit import audit
from .refusals import DefaultErrorHandler, ErrorHandler, refusal
from .request_context import RequestContext
from .request_state import STATE, RequestState

__all__ = ["LoginThrottle", "account_name", "address_bucket"]

T = TypeVar("T")

Limit = Literal["account", "address"]

#: The answers when no service is in charge of the request.
_FALLBACK: Final = DefaultErrorHandler()


def account_name(username: str) -> str:
    """The form of `username` its attempts are counted under: NFKC-normalised
    and case-folded, so `Alice`, `alice` and its fullwidth form share one count
    (normalised again after folding, which can undo NFKC)."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    return unicodedata.normalize("NFKC", folded)


def address_bucket(remote: str | None) -> str:
    """Which address count a client adds to: its IPv4 address, or its IPv6
    /64 network (one subscriber's, which holds more addresses than anyone
    could try). Not an IP address (a Unix socket): one shared count."""
    if remote is None:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote.partition("%")[0])
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return str(address)


def _digest(name: str) -> str:
    # Bounded and free of the raw input, whatever a client sends as a name
    # (a lone surrogate included).
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


class _Counted:
    """The accounts whose attempt a throttle's `check` counted during one
    request (the throttle's note on it), so that `failed` does not count
    them twice."""

    __slots__ = ("accounts",)

    def __init__(self) -> None:
        self.accounts: set[str] = set()


class LoginThrottle:
    """Counts login attempts per account name and per client address, and
    refuses more than the limits allow.

    In a login handler: `await throttle.check(request, username)` before the
    password is checked, then `failed` or `succeeded`. `check` counts the
    attempt at once (one atomic step per limit), as a failure until
    `succeeded` clears the account's count: concurrent attempts cannot
    slip past a count not yet written. The address's count keeps every
    attempt, successful ones included.

    The moving-window strategy is exact: no more than the limit in any
    window of its length (a fixed window lets twice the limit through
    across a boundary). The account is never looked up, so an unknown name
    is counted and answered exactly like a known one; the password check
    must be as slow for unknown names too.

    Args:
        per_account: Attempts allowed per account name, in `limits`' notation
            (`"5/minute"`, `"10 per hour"`). None counts no accounts.
        per_address: Attempts allowed per client address (`request.remote`;
            behind a proxy, restore the client's with aiohttp-remotes, or
            every client shares the proxy's count). None counts no addresses.
        storage: A `limits` storage URI (`"memory://"` for one process,
            `"async+redis://host:6379/0"` for several instances; `async+` is
            added when missing) or a `limits.aio.storage.Storage`.
        fail_open: When the storage does not answer, let logins through
            unthrottled instead of refusing them with 503.
        namespace: Prefix of the storage keys, to keep two applications'
            counts apart on one storage.
        timeout: Seconds to wait for the storage before counting it down.
    """

    def __init__(
        self,
        per_account: str | None = "5/minute",
        per_address: str | None = "20/minute",
        storage: str | Storage = "memory://",
        *,
        fail_open: bool = False,
        namespace: str = "aiohttp_guard:login",
        timeout: float = 1.0,
    ) -> None:
        self._account = _item(per_account, f"{namespace}:account")
        self._address = _item(per_address, f"{namespace}:address")
        self._owns_storage = isinstance(storage, str)
        self._storage = _storage(storage) if isinstance(storage, str) else storage
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._where = _describe(storage)
        self.fail_open = fail_open
        self._timeout = timeout
        #: The storage did not answer last time: its outage is logged once.
        self.down = False

    def __repr__(self) -> str:
        return (
            f"LoginThrottle(per_account={_text(self._account)}, "
            f"per_address={_text(self._address)}, storage={self._where!r})"
        )

    async def check(self, request: web.Request, username: str) -> None:
        """Count an attempt to log in as `username`, or raise the refusal:
        429 with `Retry-After` when a limit is spent, 503 when the storage
        does not answer (unless `fail_open`)."""
        account = _digest(account_name(username))
        try:
            spent = await self._answer(self._take(request, account))
        except Exception as exc:  # any storage's failure: fail closed
            self._failed(exc)
            if self.fail_open:
                return
            audit(
                "throttle",
                logging.WARNING,
                "login refused with 503: the login throttle's storage does not answer",
                request,
                status=503,
            )
            raise refusal(_answers(request).unavailable(request), None) from exc
        if spent is None:
            return
        limit, retry_after = spent
        audit(
            "throttle",
            logging.INFO,
            f"login refused with 429: too many attempts for this {limit}",
            request,
            status=429,
            limit=limit,
            account=account[:16],
            retry_after=retry_after,
        )
        handler = _answers(request)
        # An error handler written before `too_many_requests` existed gets
        # the default 429 rather than a 500.
        answer = getattr(handler, "too_many_requests", _FALLBACK.too_many_requests)
        raise refusal(answer(request, retry_after), None)

    async def failed(self, request: web.Request, username: str) -> None:
        """`username`'s password was wrong: its attempt stays counted (and is
        counted now if `check` did not count it). Never raises for the
        storage: an outage is logged, and `check` refuses meanwhile."""
        account = _digest(account_name(username))
        counted = RequestState.note_of(request, self, _Counted)
        if counted is not None and account in counted.accounts:
            return
        ids = self._ids(request, account)
        try:
            await self._answer(self._hit_all(ids))
        except Exception as exc:
            self._failed(exc)

    async def succeeded(self, request: web.Request, username: str) -> None:
        """`username` logged in: its account's count starts again (the
        address's keeps the attempt). Never raises for the storage."""
        if self._account is None:
            return
        account = _digest(account_name(username))
        try:
            await self._answer(self._limiter.clear(self._account, account))
        except Exception as exc:
            self._failed(exc)

    def setup(self, app: web.Application) -> None:
        """Close the storage's connections when `app` cleans up."""

        async def close(app: web.Application) -> None:
            await self.close()

        app.on_cleanup.append(close)

    async def close(self) -> None:
        """Close the connections of a storage made from a URI (Redis); a
        storage object you passed is yours to close."""
        if not self._owns_storage:
            return
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        aclose = getattr(client, "aclose", None)
        if aclose is not None:
            await aclose()

    # -- counting -----------------------------------------------------------

    def _ids(
        self, request: web.Request, account: str
    ) -> list[tuple[Limit, RateLimitItem, str]]:
        """The limits an attempt counts against, address first: a client
        whose address is spent does not use up the account's allowance."""
        ids: list[tuple[Limit, RateLimitItem, str]] = []
        if self._address is not None:
            ids.append(("address", self._address, address_bucket(request.remote)))
        if self._account is not None:
            ids.append(("account", self._account, account))
        return ids

    async def _take(
        self, request: web.Request, account: str
    ) -> tuple[Limit, int] | None:
        """Count the attempt against each limit in turn; the first one that
        is spent, with the seconds until it frees a place."""
        for limit, item, key in self._ids(request, account):
            if not await self._limiter.hit(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                return limit, max(1, math.ceil(stats.reset_time - time.time()))
        RequestState.current(request).note_or_new(self, _Counted).accounts.add(account)
        return None

    async def _hit_all(self, ids: list[tuple[Limit, RateLimitItem, str]]) -> None:
        for _, item, key in ids:
            await self._limiter.hit(item, key)

    async def _answer(self, call: Awaitable[T]) -> T:
        """`call`'s result within the timeout; notes the storage is back."""
        async with asyncio.timeout(self._timeout):
            result = await call
        if self.down:
            self.down = False
            audit(
                "store",
                logging.WARNING,
                f"aiohttp_guard: login throttle storage {self._where} answers again",
                store=self._where,
                state="up",
            )
        return result

    def _failed(self, exc: BaseException) -> None:
        """The storage did not answer: logged once per outage."""
        if self.down:
            return
        self.down = True
        then = (
            "letting logins through unthrottled"
            if self.fail_open
            else "refusing logins with 503"
        )
        audit(
            "store",
            logging.ERROR,
            f"aiohttp_guard: login throttle storage {self._where} unreachable, "
            f"{then} until it answers: {exc!r}",
            store=self._where,
            state="down",
            error=type(exc).__name__,
        )


def _answers(request: web.Request) -> ErrorHandler:
    """The error handler of the service in charge of `request`; without
    one, the default answers (aiohttp raises them as they are)."""
    state = request_get(request, STATE)
    if isinstance(state, RequestContext):
        return state.authenticator.error_handler
    return _FALLBACK


def _item(limit: str | None, namespace: str) -> RateLimitItem | None:
    if limit is None:
        return None
    item = parse(limit)
    return type(item)(item.amount, item.multiples, namespace=namespace)


def _text(item: RateLimitItem | None) -> str:
    return "None" if item is None else repr(str(item))


def _storage(uri: str) -> Storage:
    """The async storage a URI names; Redis through redis-py (the `redis`
    extra), which the library uses already, rather than coredis."""
    if not uri.startswith("async+"):
        uri = "async+" + uri
    scheme = urlsplit(uri).scheme
    made = (
        storage_from_string(uri, implementation="redispy")
        if scheme.startswith("async+redis")
        else storage_from_string(uri)
    )
    if not isinstance(made, Storage):  # pragma: no cover - async+ is forced
        raise TypeError(f"{uri!r} names no async storage of limits")
    return made


def _describe(storage: str | Storage) -> str:
    """The storage named for logs: its scheme and host, never a password."""
    if not isinstance(storage, str):
        return type(storage).__name__
    parts = urlsplit(storage)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"
