"""The websocket handshake check: exact Origin (scheme, host and port) and sane headers.

Channels' ``AllowedHostsOriginValidator`` compares only the Origin's host name
with ``ALLOWED_HOSTS``, so ``http://site:9999`` or ``http://site`` (for an
``https`` site) pass it. Here an Origin is allowed only when it is

- the request's own origin: the scheme it arrived with (``X-Forwarded-Proto``
  when ``SECURE_PROXY_SSL_HEADER`` trusts it), the ``Host`` header's name and
  port, that name being in ``ALLOWED_HOSTS``; or
- one of ``CSRF_TRUSTED_ORIGINS`` (``DJANGO_CSRF_TRUSTED_ORIGINS``): the site's
  public origin when the socket is served by a separate messaging node
  (``SysMsgServerNode``), e.g. the page on ``https://site:2014`` and the socket
  on ``ws://site:2013``.

``Origin: null`` is refused. A missing Origin is refused unless the socket
authenticates with ``?token=``: browsers always send Origin on websockets, so
a client without one is not a browser and cannot be riding a victim's
cookies; the token is not ambient authority (the consumer ignores cookies when
one is given). Any header value with a control character (``\\x0b``, CR, LF,
NUL ...) is refused, and so is a ``Host`` that ``ALLOWED_HOSTS`` does not name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

logger = logging.getLogger(__name__)
LOG_INTERVAL = 10.0  # a scan or a misconfigured proxy refuses many handshakes: one warning per 10 s

DEFAULT_PORTS = {"http": 80, "https": 443}
# Control characters other than TAB never belong in a header value; daphne passes them through.
_FORBIDDEN_BYTES = frozenset(range(0x00, 0x09)) | frozenset(range(0x0A, 0x20)) | {0x7F}


@dataclass(frozen=True)
class Origin:
    """A web origin: ``scheme`` (``http``/``https``), lower-case ``host`` (no brackets), ``port``."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


class HandshakeRefused(Exception):
    """Why a websocket handshake is refused (logged; the client only sees a 403)."""


def parse_origin(value: str) -> Origin:
    """Parse a serialised origin (``scheme://host[:port]``, nothing after it); raises ``ValueError``."""
    if not value or not value.isascii() or not value.isprintable() or value != value.strip():
        raise ValueError("not a printable ASCII origin")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"scheme {scheme!r} is not http or https")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("an origin has no user, path, query or fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("no host")
    port = parts.port  # raises ValueError for a port that is not a number in range
    return Origin(scheme, host, port or DEFAULT_PORTS[scheme])


def _trusted_matches(origin: Origin, entry: str) -> bool:
    """Does ``origin`` match one ``CSRF_TRUSTED_ORIGINS`` entry (``https://*.example.org`` allowed)?"""
    wildcard = "://*." in entry
    try:
        trusted = parse_origin(entry.replace("://*.", "://", 1) if wildcard else entry)
    except ValueError:
        return False
    if trusted.scheme != origin.scheme or trusted.port != origin.port:
        return False
    if wildcard:
        return is_same_domain(origin.host, "." + trusted.host)
    return origin.host == trusted.host


def _allowed_hosts() -> list[str]:
    # The same fallback Django's HttpRequest.get_host() uses.
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _request_scheme(scope: dict, headers: dict[str, str]) -> str:
    """``https`` when the socket arrived over TLS (directly, or per a trusted proxy header)."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure_value = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-")
        if header in headers:
            return "https" if headers[header].split(",")[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def request_origin(scope: dict, headers: dict[str, str]) -> Origin:
    """The origin this request was made to; raises :class:`HandshakeRefused` for a bad ``Host``."""
    host_header = headers.get("host", "")
    domain, port = split_domain_port(host_header)
    if not domain or not validate_host(domain, _allowed_hosts()):
        raise HandshakeRefused(f"Host {host_header[:100]!r} is not in ALLOWED_HOSTS")
    scheme = _request_scheme(scope, headers)
    return Origin(scheme, domain.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme])


def _decoded_headers(scope: dict) -> dict[str, str]:
    """Header name -> value; refuses control characters, undecodable names and repeated Host/Origin."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if _FORBIDDEN_BYTES.intersection(value) or _FORBIDDEN_BYTES.intersection(name):
            raise HandshakeRefused(f"header {name[:40]!r} holds a control character")
        key = name.decode("latin-1").lower()
        if key in ("host", "origin") and key in headers:
            raise HandshakeRefused(f"more than one {key} header")
        headers[key] = value.decode("latin-1")
    return headers


def check_handshake(scope: dict) -> Origin | None:
    """Return the accepted Origin (``None``: none sent, token socket) or raise :class:`HandshakeRefused`."""
    headers = _decoded_headers(scope)
    own = request_origin(scope, headers)
    if "origin" not in headers:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if any(query.get("token", [])):
            return None
        raise HandshakeRefused("no Origin header (only token sockets may omit it)")
    raw = headers["origin"]
    if raw.strip().lower() == "null":
        raise HandshakeRefused("Origin is null")
    try:
        origin = parse_origin(raw)
    except ValueError as exc:
        raise HandshakeRefused(f"Origin {raw[:100]!r} is malformed: {exc}") from None
    if origin == own or any(_trusted_matches(origin, entry) for entry in settings.CSRF_TRUSTED_ORIGINS):
        return origin
    raise HandshakeRefused(f"Origin {origin} is neither {own} nor in CSRF_TRUSTED_ORIGINS")


class StrictOriginValidator:
    """ASGI middleware for websockets: refuse (HTTP 403) a handshake :func:`check_handshake` refuses."""

    def __init__(self, application, clock: Callable[[], float] = time.monotonic) -> None:
        self.application = application
        self.clock = clock
        self._logged_at: float | None = None
        self._unlogged = 0  # refusals since the last warning

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            try:
                check_handshake(scope)
            except HandshakeRefused as exc:
                self._log(scope, exc)
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    def _log(self, scope: dict, exc: HandshakeRefused) -> None:
        now = self.clock()
        if self._logged_at is not None and now - self._logged_at < LOG_INTERVAL:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more refused since the last report)" if self._unlogged else ""
        logger.warning("websocket refused from %s: %s%s", (scope.get("client") or ["?"])[0], exc, more)
        self._logged_at, self._unlogged = now, 0
