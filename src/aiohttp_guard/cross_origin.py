"""Cross-origin (CSRF) protection without tokens, from what browsers say.

A browser attaches cookies to a request that another site's page makes it
send: a form posted to `/logout`, a fetch to `/notes/1/delete`. Modern
browsers say where such a request comes from in `Sec-Fetch-Site`, and all of
them in `Origin` for a cross-origin POST; neither header can be set by the
page. So an unsafe request (not GET, HEAD or OPTIONS) is let through when:

1. its `Origin` is one of the trusted origins;
2. else its `Sec-Fetch-Site` is `same-origin` or `none` (typed in the
   address bar, a bookmark); any other value is refused;
3. else it has neither header: not a browser, or one too old to send them,
   which the ticket cookie's `SameSite=Lax` still covers;
4. else its `Origin` names this server (host and port as in `Host`);
   `Origin: null` (a sandboxed frame, a privacy redirect) does not.

A request with an `Authorization` header of a scheme that browsers never
attach by themselves (`Bearer`, not `Basic`) carries its credential in
the request, not in the browser, and is not checked. Safe methods are never
checked: they must not change anything, whoever asks; but a WebSocket
handshake, a GET that opens a connection acting for the user, is.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Final, TypeVar, cast

import attrs
from aiohttp import hdrs, web
from multidict import CIMultiDictProxy

from ._views import is_view_class

__all__ = [
    "CrossOriginProtection",
    "csrf_exempt",
    "is_csrf_exempt",
    "is_websocket_handshake",
]

#: Methods that must not change anything, so no page can forge one.
SAFE_METHODS: Final = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})

#: `Authorization` schemes a browser sends by itself once the user has
#: answered its prompt (or the operating system has): they are ambient, like
#: a cookie, so a request carrying one is checked all the same.
AMBIENT_SCHEMES: Final = frozenset({"basic", "digest", "negotiate", "ntlm"})

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_EXEMPT_ATTR: Final = "__aiohttp_guard_csrf_exempt__"
#: Longest header value kept in a refusal's reason (the audit log).
_SHOWN: Final = 100

#: An origin: scheme, host and port (the scheme's default when not written).
Origin = tuple[str, str, int | None]


#: `host[:port]`: a bracketed IPv6 address or a registered name (or IPv4
#: address) of URL characters, and at most five digits of port.
_HOST: Final = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::([0-9]{1,5}))?"
_HOST_RE: Final = re.compile(_HOST)
_ORIGIN_RE: Final = re.compile(rf"([A-Za-z][A-Za-z0-9+.-]*)://{_HOST}")


def _host_port(
    host: str, port_text: str | None, default_port: int | None
) -> tuple[str, int | None] | None:
    if host.startswith("[") and not _is_ipv6(host[1:-1]):
        return None
    if port_text is None:
        return host.lower(), default_port
    port = int(port_text)
    return (host.lower(), port) if port <= 65535 else None


def _parse_host(value: str, default_port: int | None) -> tuple[str, int | None] | None:
    """`host[:port]` (`[v6]:port` for IPv6), host lower-cased; None when it
    is not one (a path, user info, a bad port: refused, never guessed)."""
    match = _HOST_RE.fullmatch(value)
    if match is None:
        return None
    return _host_port(match[1], match[2], default_port)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def parse_origin(value: str) -> Origin | None:
    """An `Origin` header's `scheme://host[:port]`, normalised (lower case,
    the scheme's default port filled in); None for `null` or anything else
    that is not an origin."""
    match = _ORIGIN_RE.fullmatch(value)
    if match is None:
        return None
    scheme = match[1].lower()
    host = _host_port(match[2], match[3], _DEFAULT_PORTS.get(scheme))
    return None if host is None else (scheme, *host)


def _serialised(origin: Origin) -> str:
    """How a browser writes `origin` in an `Origin` header: lower case, the
    scheme's default port left out."""
    scheme, host, port = origin
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _trusted(origins: Iterable[str]) -> frozenset[Origin]:
    if isinstance(origins, str):
        raise TypeError(
            "trusted_origins is a collection of origins, not one string: "
            f"write trusted_origins=({origins!r},)"
        )
    parsed: set[Origin] = set()
    for origin in origins:
        if "*" in origin:
            raise ValueError(
                f"{origin!r}: trusted_origins takes whole origins, not "
                "patterns; list each origin to trust"
            )
        found = parse_origin(origin)
        if found is None:
            raise ValueError(
                f"{origin!r} is not an origin: write scheme://host[:port], "
                "with no path (for example 'https://app.example.com')"
            )
        parsed.add(found)
    return frozenset(parsed)


def _shown(value: str) -> str:
    """A header value as the audit log may show it: quoted, shortened."""
    return repr(value[:_SHOWN] + ("..." if len(value) > _SHOWN else ""))


@attrs.frozen
class CrossOriginProtection:
    """Refuses unsafe requests that another site's page made a browser send.

    On by default in every `AuthService` (`csrf=None` turns it off). Routes
    that must take cross-origin requests (a webhook) are opened one by one
    with `csrf_exempt`.

    Args:
        trusted_origins: Origins (`scheme://host[:port]`) whose pages may
            send unsafe requests here although they are another origin: a
            front end on its own host, or this app's public origin when a
            proxy in front of it rewrites `Host`. Default: none.
        websockets: Check WebSocket handshakes too: they are GET requests,
            but open a connection that acts for the user whose cookie the
            browser sent along (cross-site WebSocket hijacking). Default:
            on.
    """

    trusted_origins: frozenset[Origin] = attrs.field(
        default=frozenset(), converter=_trusted, repr=False
    )
    websockets: bool = attrs.field(default=True, kw_only=True)
    #: The trusted origins as browsers write them, for a look-up without
    #: parsing in the usual case.
    _trusted_texts: frozenset[str] = attrs.field(
        init=False,
        repr=False,
        default=attrs.Factory(
            lambda self: frozenset(map(_serialised, self.trusted_origins)),
            takes_self=True,
        ),
    )

    def check(self, request: web.BaseRequest) -> str | None:
        """None when `request` may go on; otherwise why it is refused, for
        the audit log (with the headers it was judged by).

        The steps are taken in the order that costs least: a pass by a
        trusted origin or by `Sec-Fetch-Site` is a pass either way, so the
        usual request of a current browser costs two header look-ups."""
        headers = request.headers
        if request.method in SAFE_METHODS and not (
            self.websockets and is_websocket_handshake(request)
        ):
            return None
        # Sent more than once, a header is not a browser's: judged as sent.
        fetch_sites: list[str] = headers.getall("Sec-Fetch-Site", _NONE)
        fetch_site = ", ".join(fetch_sites) if fetch_sites else None
        if fetch_site in _FETCHED_BY_ITSELF or _carries_own_credential(headers):
            return None
        origins: list[str] = headers.getall(hdrs.ORIGIN, _NONE)
        origin_text = ", ".join(origins) if origins else None
        if origin_text is not None and self._is_trusted(origin_text):
            return None
        if fetch_site is not None:
            origin = "absent" if origin_text is None else _shown(origin_text)
            return (
                f"cross-origin request refused: Sec-Fetch-Site "
                f"{_shown(fetch_site)}, Origin {origin}"
            )
        if origin_text is None or _is_host_of(origin_text, request):
            return None
        return (
            f"cross-origin request refused: Origin {_shown(origin_text)} is "
            f"not this server (Host {_shown(request.host)})"
        )

    def _is_trusted(self, origin_text: str) -> bool:
        if not self.trusted_origins:
            return False
        if origin_text in self._trusted_texts:
            return True
        return parse_origin(origin_text) in self.trusted_origins


_NONE: Final[list[str]] = []


def is_websocket_handshake(request: web.BaseRequest) -> bool:
    """Whether `request` asks to become a WebSocket: a GET with `Upgrade:
    websocket` (one header look-up for every other GET)."""
    upgrade = request.headers.get(hdrs.UPGRADE)
    return upgrade is not None and "websocket" in upgrade.lower()


#: `Sec-Fetch-Site` values of requests the site's own pages (or the user, by
#: the address bar or a bookmark) made.
_FETCHED_BY_ITSELF: Final = frozenset({"same-origin", "none"})


#: The default of `AuthService(csrf=...)`: on, trusting no other origin.
DEFAULT_PROTECTION: Final = CrossOriginProtection()


def _carries_own_credential(headers: CIMultiDictProxy[str]) -> bool:
    """Whether the request's only credential is one it brings itself: an
    `Authorization` of a scheme no browser attaches by itself, and no
    cookie (which would be ambient, whatever the header says)."""
    authorization = headers.get(hdrs.AUTHORIZATION)
    if authorization is None or hdrs.COOKIE in headers:
        return False
    scheme = authorization.split(None, 1)[0].lower() if authorization.strip() else ""
    return bool(scheme) and scheme not in AMBIENT_SCHEMES


def _is_host_of(origin_text: str, request: web.BaseRequest) -> bool:
    """Whether `origin_text` names the host and port the request was sent
    to: a `Host` without a port is at the origin scheme's default port, and
    a request that arrived over HTTPS comes from an HTTPS page."""
    host = request.host
    secure = request.secure
    if len(origin_text) + len(host) > _CACHED_LENGTH:
        return _names_host(origin_text, host, secure=secure)
    return _names_host_cached(origin_text, host, secure=secure)


def _names_host(origin_text: str, host_header: str, *, secure: bool) -> bool:
    origin = parse_origin(origin_text)
    if origin is None or origin[0] not in _WEB_SCHEMES:
        return False
    if secure and origin[0] != "https":
        return False  # a plain-HTTP page of this host is not this origin
    return _parse_host(host_header, _DEFAULT_PORTS[origin[0]]) == origin[1:]


_WEB_SCHEMES: Final = frozenset({"http", "https"})


#: A site's pages send the same few `Origin` and `Host` pairs again and
#: again: the answer for each is kept (a look-up instead of 2.5 us of
#: parsing: benchmarks.micro, 2026-12-01), for short pairs only, so
#: that what is kept stays small whatever clients send.
_names_host_cached: Final = functools.lru_cache(maxsize=512)(_names_host)
_CACHED_LENGTH: Final = 300


Exempted = TypeVar("Exempted", bound=Callable[..., object])


def csrf_exempt(target: Exempted) -> Exempted:
    """Open a function handler, a view class (and its subclasses) or a view
    method to cross-origin requests: for routes that other sites call on
    purpose, such as a webhook, which must then authenticate their callers
    by something no browser sends by itself (a signature, a token).
    Guards still run."""
    if not callable(target):
        raise TypeError(
            f"csrf_exempt decorates a handler, a view class or a view method, "
            f"not {type(target).__name__}"
        )
    try:
        setattr(target, _EXEMPT_ATTR, True)
    except (AttributeError, TypeError):
        raise TypeError(
            f"csrf_exempt cannot mark {target!r}: decorate the function itself"
        ) from None
    return target


def is_csrf_exempt(handler: object, method: str) -> bool:
    """Whether `csrf_exempt` opened `handler` (a route's handler) to
    cross-origin `method` requests: the function, the view class, or the
    view's method for `method`."""
    if getattr(handler, _EXEMPT_ATTR, False) is True:
        return True
    if is_view_class(handler):
        own = getattr(handler, method.lower(), None)
        return getattr(own, _EXEMPT_ATTR, False) is True
    if isinstance(handler, functools.partial):
        return is_csrf_exempt(cast("functools.partial[object]", handler).func, method)
    return False
