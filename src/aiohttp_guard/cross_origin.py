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
checked: they must not change anything, whoever asks.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable
from typing import Final, TypeVar, cast

import attrs
from aiohttp import hdrs, web
from aiohttp.abc import AbstractView
from multidict import CIMultiDictProxy

__all__ = ["CrossOriginProtection", "csrf_exempt", "is_csrf_exempt"]

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


def _parse_host(value: str, default_port: int | None) -> tuple[str, int | None] | None:
    """`host[:port]` (`[v6]:port` for IPv6), host lower-cased; None when it
    is not one (a path, user info, a bad port: refused, never guessed)."""
    if not value or not value.isascii() or any(c in value for c in "/?#@\\ \t"):
        return None
    if value.startswith("["):
        host, _, rest = value.partition("]")
        host += "]"
        if not _is_ipv6(host[1:-1]):
            return None
    else:
        host, colon, port_text = value.partition(":")
        rest = colon + port_text
    if not host:
        return None
    if not rest:
        return host.lower(), default_port
    port = _port(rest)
    return None if port is None else (host.lower(), port)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _port(text: str) -> int | None:
    """The port of `:1234`; None for anything else (an empty port too)."""
    digits = text[1:] if text.startswith(":") else ""
    if digits.isdigit() and len(digits) <= 5 and int(digits) <= 65535:
        return int(digits)
    return None


def parse_origin(value: str) -> Origin | None:
    """An `Origin` header's `scheme://host[:port]`, normalised (lower case,
    the scheme's default port filled in); None for `null` or anything else
    that is not an origin."""
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if (
        not sep
        or not scheme.isascii()
        or not scheme[:1].isalpha()
        or not all(c.isalnum() or c in "+-." for c in scheme)
    ):
        return None
    parsed = _parse_host(rest, _DEFAULT_PORTS.get(scheme))
    if parsed is None:
        return None
    return scheme, *parsed


def _trusted(origins: Iterable[str]) -> frozenset[Origin]:
    if isinstance(origins, str):
        raise TypeError(
            "trusted_origins is a collection of origins, not one string: "
            f"write trusted_origins=({origins!r},)"
        )
    parsed: set[Origin] = set()
    for origin in origins:
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
    """

    trusted_origins: frozenset[Origin] = attrs.field(
        default=frozenset(), converter=_trusted, repr=False
    )

    def check(self, request: web.BaseRequest) -> str | None:
        """None when `request` may go on; otherwise why it is refused, for
        the audit log (with the headers it was judged by)."""
        headers = request.headers
        if request.method in SAFE_METHODS or _carries_own_credential(headers):
            return None
        origins = headers.getall(hdrs.ORIGIN, ())
        if len(origins) > 1:
            return "cross-origin request refused: more than one Origin header"
        origin_text = origins[0] if origins else None
        origin = None if origin_text is None else parse_origin(origin_text)
        if origin is not None and origin in self.trusted_origins:
            return None
        fetch_sites = headers.getall("Sec-Fetch-Site", ())
        if fetch_sites:
            return _by_fetch_site(fetch_sites, origin_text)
        if origin_text is None or (origin is not None and _is_host_of(origin, request)):
            return None
        return (
            f"cross-origin request refused: Origin {_shown(origin_text)} is "
            f"not this server (Host {_shown(request.host)})"
        )


#: The default of `AuthService(csrf=...)`: on, trusting no other origin.
DEFAULT_PROTECTION: Final = CrossOriginProtection()


def _carries_own_credential(headers: CIMultiDictProxy[str]) -> bool:
    """Whether the request brings an `Authorization` of a scheme that no
    browser attaches by itself: a credential that is not ambient."""
    authorization = headers.get(hdrs.AUTHORIZATION)
    if authorization is None:
        return False
    scheme = authorization.split(" ", 1)[0].lower()
    return bool(scheme) and scheme not in AMBIENT_SCHEMES


def _by_fetch_site(values: list[str], origin_text: str | None) -> str | None:
    """The verdict of `Sec-Fetch-Site`, which only a browser sends: its own
    origin, or the user's own doing (`none`), and nothing else."""
    if len(values) == 1 and values[0] in ("same-origin", "none"):
        return None
    origin = "absent" if origin_text is None else _shown(origin_text)
    return (
        f"cross-origin request refused: Sec-Fetch-Site "
        f"{_shown(', '.join(values))}, Origin {origin}"
    )


def _is_host_of(origin: Origin, request: web.BaseRequest) -> bool:
    """Whether `origin` names the host and port the request was sent to:
    a `Host` without a port is at the origin scheme's default port."""
    try:
        host_header = request.host
    except ValueError:
        return False
    host = _parse_host(host_header, _DEFAULT_PORTS.get(origin[0]))
    return host is not None and host == origin[1:]


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
    if isinstance(handler, type) and issubclass(handler, AbstractView):
        own = getattr(handler, method.lower(), None)
        return getattr(own, _EXEMPT_ATTR, False) is True
    if isinstance(handler, functools.partial):
        return is_csrf_exempt(cast("functools.partial[object]", handler).func, method)
    return False
