"""Who may talk to the owner's HTTP server: one middleware in front of every route.

The server listens on loopback, yet a web page in the user's browser can still reach it: by
DNS rebinding (a name of the page's that resolves to 127.0.0.1, so the Host header is the
page's) or by a cross-origin ``text/plain`` POST, which a browser sends without asking first.
So every request must name this server in its Host header (a loopback address, ``localhost``,
the configured host or an allowed name; any IP address when the server listens on all of
them), must not come from another origin, and, except on the public routes (OTLP intake and
the index), must carry the owner's secret and a JSON body. New routes are private unless they
are added to the public ones.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Callable, Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from seamscope.tracer.owner import SECRET_HEADER, TRACES_PATH
from seamscope.tracer.receiver.refused import with_reason

PUBLIC_PATHS = frozenset({TRACES_PATH, "/"})
"""Routes any local client may use without the secret (OTLP senders in any language)."""
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})
_PORT = re.compile(r"(:[0-9]*)?")
_ONCE = ("Host", "Origin", SECRET_HEADER)
"""Header fields the guard judges: a request that repeats one is refused."""


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def beyond_loopback(bound_host: str) -> bool:
    """Whether a server bound to bound_host can be reached from other machines: every address
    (``0.0.0.0``, ``::``), an address that is not loopback, or a name that is not this
    machine's own (which may resolve to any of its addresses)."""
    name = host_name(bound_host)
    if name in _WILDCARDS:
        return True
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return False
    ip = _ip(name)
    return ip is None or not ip.is_loopback


def host_name(value: str) -> str:
    """The host part of a Host header value (no port, no IPv6 brackets), lowercased."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 and _port(value[end + 1 :]) else value
    if value.count(":") == 1:
        name, _, port = value.partition(":")
        if not _port(":" + port):
            return value  # "localhost:80@attacker.example" names no host of ours
        value = name
    return value.rstrip(".")


def _port(text: str) -> bool:
    """Whether text is what may follow a host: nothing, or a colon and a port's digits."""
    return _PORT.fullmatch(text) is not None


class Guard:
    """Decides whether a request may reach a route; see the module's docstring."""

    def __init__(
        self,
        bound_host: str,
        port: int,
        secret: str,
        allowed_hosts: Iterable[str] = (),
        *,
        renew: Callable[[], str | None] | None = None,
    ) -> None:
        self.port = port
        self.secret = secret
        self.renew = renew
        """The owner's secret as of now (a new one once its file was found readable by
        others: owner.renew_if_exposed); None once the owner withdrew."""
        self.any_ip = bound_host in _WILDCARDS
        names = {host_name(h) for h in allowed_hosts if h}
        if not self.any_ip:
            names.add(host_name(bound_host))
        self.names = frozenset(names | _LOCAL_NAMES)

    def refresh(self) -> None:
        """Takes the owner's secret anew: before each request that needs it, and now and then
        (the server's watch), so that a secret others could read opens nothing for long."""
        if self.renew is not None:
            secret = self.renew()
            if secret:
                self.secret = secret

    def host_allowed(self, name: str) -> bool:
        if name in self.names or name.endswith(".localhost"):
            return True
        ip = _ip(name)
        if ip is None:
            return False
        return ip.is_loopback or self.any_ip or str(ip) in self.names

    def origin_allowed(self, origin: str) -> bool:
        """Only the server's own origin (a page it served itself; it serves none today)."""
        try:
            url = URL(origin)
        except ValueError:
            return False
        return (
            url.scheme == "http"
            and url.host is not None
            and self.host_allowed(host_name(url.host))
            and url.port == self.port
        )

    def refusal(self, request: web.Request) -> web.Response | None:
        """The answer that refuses request, or None when it may go on."""
        # A field this guard judges must be given once: judged on its first value, a second
        # (a web page's Origin after the server's own, a guessed secret after the right one)
        # would pass unseen. aiohttp's parser refuses two Host fields itself, not these.
        for name in _ONCE:
            if len(request.headers.getall(name, ())) > 1:
                return _refuse(400, f"the request has more than one {name} header")
        host = request.headers.get("Host")
        if host is None:
            return _refuse(400, "the request has no Host header")
        # An absolute URL as the request target names the server instead of the Host header
        # (RFC 9112, 3.2.2), and aiohttp takes its host as the request's: both must name this.
        for name in (host, request.host):
            if not self.host_allowed(host_name(name)):
                return _refuse(
                    403,
                    f"Host {name[:80]!r} does not name this server (a loopback address or "
                    f"{', '.join(sorted(self.names))}; see --allow-host)",
                )
        origin = request.headers.get("Origin")
        if origin is not None and not self.origin_allowed(origin):
            return _refuse(403, f"cross-origin requests are refused (Origin {origin[:80]!r})")
        if request.path in PUBLIC_PATHS:
            return None
        self.refresh()
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return _refuse(
                401,
                f"{request.path} answers only the store's user: send the secret of the owner "
                f"file in {SECRET_HEADER}",
            )
        if request.method == "POST" and request.content_type != "application/json":
            return _refuse(
                415, f"content type {request.content_type!r} is refused here: send application/json"
            )
        return None

    def middleware(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            return await handler(request)

        return guard


def _refuse(status: int, message: str) -> web.Response:
    response = with_reason(web.json_response({"error": message}, status=status), message)
    # A refused client should not keep the connection (nor its slot) open.
    response.force_close()
    return response
