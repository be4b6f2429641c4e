"""Where a `JWTPolicy` gets its keys: a static JWK set, or the provider's,
fetched with aiohttp and kept for as long as the provider says.

Fetches never block the event loop and never run more often than the
provider allows: a kept set is used until its `Cache-Control` max-age
(bounded to a minute..a day), then refreshed in the background while it
stays in use; a token naming a key the set does not have fetches again at
most once per `refetch_interval`, so a flood of made-up key ids costs the
provider one request (the discovered key set's URL is kept). A provider
that does not answer leaves the kept keys in use; with none, tokens are
refused (and the failure logged once per attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from typing import Final, cast

import aiohttp
from yarl import URL

from .._cache_control import max_age
from ._jwt_keys import KeyIndex, index_keys

__all__ = [
    "DEFAULT_KEY_LIFE",
    "MAX_DOCUMENT",
    "MAX_KEY_LIFE",
    "MIN_KEY_LIFE",
    "KeySource",
    "check_fetch_url",
]

log = logging.getLogger("aiohttp_guard")

#: Bounds on how long a fetched set is kept, whatever the provider says.
MIN_KEY_LIFE: Final = 60.0
MAX_KEY_LIFE: Final = 86400.0
#: How long a set is kept when the provider says nothing.
DEFAULT_KEY_LIFE: Final = 300.0
#: The largest discovery document or key set read, in bytes.
MAX_DOCUMENT: Final = 1 << 20

_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def check_fetch_url(url: str, what: str) -> URL:
    """`url` as a URL keys may be fetched from: https, or http on this
    machine's loopback (a provider in tests or beside the app); a
    ValueError naming `what` otherwise."""
    parsed = URL(url)
    if not parsed.is_absolute() or parsed.host is None:
        raise ValueError(f"{what} must be an absolute URL, not {url!r}")
    if parsed.scheme == "https":
        return parsed
    if parsed.scheme == "http" and _is_loopback(parsed.host):
        return parsed
    raise ValueError(
        f"{what} must be an https URL (http only on a loopback address): "
        f"keys fetched over plain http could be replaced on the way; got {url!r}"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _FetchError(Exception):
    """Why a fetch gave no key set, for the log line."""


class KeySource:
    """The keys a `JWTPolicy` verifies with.

    Args:
        issuer: The provider; its discovery document is read when no
            `jwks_url` is given.
        jwks_url: Where the provider publishes its keys, if known.
        static: A fixed key set (no fetching).
        algorithms: The policy's allow-list.
        client_session: The aiohttp session to fetch with; None opens one
            per fetch (fetches are minutes apart).
        timeout: Seconds one fetch may take, discovery included.
        refetch_interval: Seconds between two fetches outside the schedule
            (an unknown key id, a failed fetch).
        clock: Monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None,
        static: KeyIndex | None,
        algorithms: frozenset[str],
        client_session: aiohttp.ClientSession | None,
        timeout: float,
        refetch_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.algorithms = algorithms
        self.client_session = client_session
        self.timeout = timeout
        self.refetch_interval = refetch_interval
        self.clock = clock
        #: The keys in use; None until a fetch succeeded.
        self.index: KeyIndex | None = static
        self._static = static is not None
        self._expires = float("inf") if static is not None else 0.0
        self._last_attempt: float | None = None
        self._fetching: asyncio.Task[None] | None = None
        # The jwks_uri discovery gave, kept until a fetch from it fails.
        self._discovered: str | None = None

    def __repr__(self) -> str:
        where = "static keys" if self._static else (self.jwks_url or self.issuer)
        return f"KeySource({where})"

    def current(self) -> KeyIndex | None:
        """The keys in use now, without waiting: a stale set's refresh is
        started in the background (a request answered from a cache must
        not keep a withdrawn key in use for good)."""
        if self._static:
            return self.index
        self._drop_foreign_fetch()
        now = self.clock()
        kept = self.index
        if kept is not None and now >= self._expires and self._may_refresh(now):
            self._start_fetch()
        return kept

    def _may_refresh(self, now: float) -> bool:
        return self._fetching is None and self._may_fetch(now)

    async def keys(self) -> KeyIndex | None:
        """The keys to verify with now: the kept ones (refreshed in the
        background once stale), or, when none are kept yet, those of a
        fetch this call waits for. None when there are none."""
        if self.current() is not None:
            return self.index
        if self._may_refresh(self.clock()):
            self._start_fetch()
        await self._wait_for_fetch()
        return self.index

    async def refetch(self) -> KeyIndex | None:
        """The keys after fetching them again for a token naming a key id
        they lack, unless a fetch ran within `refetch_interval`."""
        if self._static:
            return self.index
        self._drop_foreign_fetch()
        if self._may_refresh(self.clock()):
            self._start_fetch()
        await self._wait_for_fetch()
        return self.index

    async def idle(self) -> None:
        """Wait for a fetch under way, if any, to end (a refresh started in
        the background): at startup after `refetch`, or in tests."""
        await self._wait_for_fetch()

    def _may_fetch(self, now: float) -> bool:
        last = self._last_attempt
        return last is None or now - last >= self.refetch_interval

    def _start_fetch(self) -> None:
        self._last_attempt = self.clock()
        self._fetching = asyncio.get_running_loop().create_task(self._fetch())

    def _drop_foreign_fetch(self) -> None:
        """Forget a fetch started on another event loop (one since closed,
        the policy now serving another app): it will never finish here, and
        must not hold the next fetch back for `refetch_interval`."""
        task = self._fetching
        if task is not None and task.get_loop() is not asyncio.get_running_loop():
            self._fetching = None
            self._last_attempt = None

    async def _wait_for_fetch(self) -> None:
        task = self._fetching
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            return
        # Shielded: a request given up by its client must not cancel the
        # fetch the other requests wait for.
        with contextlib.suppress(Exception):
            await asyncio.shield(task)

    async def _fetch(self) -> None:
        url = self.jwks_url or self._discovered
        try:
            try:
                # One deadline for the whole fetch, discovery included.
                async with asyncio.timeout(self.timeout), self._session() as session:
                    if url is None:
                        url = self._discovered = await self._discover(session)
                    document, life = await _get_json(session, url)
                index = index_keys(document, self.algorithms)
            except (_FetchError, ValueError) as exc:
                self._failed(url, str(exc))
                return
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._failed(url, f"{type(exc).__name__}: {exc}".rstrip(": "))
                return
            except Exception as exc:  # fails closed: no new keys, never a 500
                self._failed(url, repr(exc))
                return
            self._keep(index, life)
        except asyncio.CancelledError:
            self._last_attempt = None  # its loop is closing: none was made
            raise
        finally:
            self._fetching = None

    def _session(self) -> contextlib.AbstractAsyncContextManager[aiohttp.ClientSession]:
        if self.client_session is not None:
            return contextlib.nullcontext(self.client_session)
        return aiohttp.ClientSession()

    async def _discover(self, session: aiohttp.ClientSession) -> str:
        """The `jwks_uri` of the issuer's OpenID Connect discovery document,
        which must name the issuer itself."""
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        found, _ = await _get_json(session, url)
        if not isinstance(found, dict):
            raise _FetchError(f"the discovery document at {url} is not an object")
        document = cast("dict[str, object]", found)
        if document.get("issuer") != self.issuer:
            raise _FetchError(
                f"the discovery document at {url} names another issuer "
                f"({str(document.get('issuer'))[:100]!r})"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise _FetchError(f"the discovery document at {url} has no jwks_uri")
        try:
            check_fetch_url(jwks_uri, "the discovered jwks_uri")
        except ValueError as exc:
            raise _FetchError(str(exc)) from None
        return jwks_uri

    def _keep(self, index: KeyIndex, life: float) -> None:
        kept = self.index
        if kept is None or kept.fingerprint != index.fingerprint:
            # A new object only for a changed set: tokens verified with the
            # kept one stay verified while the provider says the same.
            self.index = kept = index
            usable = len({id(key) for key in index.keys.values()})
            if not usable:
                log.warning(
                    "aiohttp_guard: the key set of %s has no key usable with "
                    "algorithms %s: every token is refused%s",
                    self.issuer,
                    sorted(self.algorithms),
                    "".join(f"; {why}" for why in index.skipped[:5]),
                )
            elif index.skipped:
                log.info(
                    "aiohttp_guard: keys of %s left out: %s",
                    self.issuer,
                    "; ".join(index.skipped[:5]),
                )
        self._expires = self.clock() + life

    def _failed(self, url: str | None, why: str) -> None:
        # Discovered again next time: the provider may have moved its keys.
        self._discovered = None
        log.warning(
            "aiohttp_guard: the keys of %s could not be fetched%s: %s; %s",
            self.issuer,
            "" if url is None else f" from {url}",
            why[:300],
            "the keys fetched before stay in use"
            if self.index is not None
            else "tokens are refused until they can be",
        )


async def _get_json(session: aiohttp.ClientSession, url: str) -> tuple[object, float]:
    """The JSON document at `url` and how long it may be kept, in seconds."""
    async with session.get(
        url,
        allow_redirects=False,
        headers={"Accept": "application/json"},
    ) as response:
        if response.status != 200:
            raise _FetchError(f"{url} answered {response.status}")
        if (response.content_length or 0) > MAX_DOCUMENT:
            raise _FetchError(f"{url} sent more than {MAX_DOCUMENT} bytes")
        body = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > MAX_DOCUMENT:
                raise _FetchError(f"{url} sent more than {MAX_DOCUMENT} bytes")
        seconds = max_age(response.headers.get("Cache-Control"))
    try:
        document: object = json.loads(body)
    except (ValueError, RecursionError):
        raise _FetchError(f"{url} sent no JSON") from None
    life = DEFAULT_KEY_LIFE if seconds is None else float(seconds)
    return document, min(max(life, MIN_KEY_LIFE), MAX_KEY_LIFE)
