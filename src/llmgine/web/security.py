"""Who may use the web front end: the access token, the Host and Origin checks, log paths.

* Every HTTP request and WebSocket needs the token printed at start: in the
  URL (``?token=...``, then kept in a cookie), an ``Authorization: Bearer``
  header or the cookie. A page opened with the token in its URL is
  redirected to the same URL without it, so the token does not stay in the
  address bar or the history.
* A server bound to a loopback address answers only requests whose ``Host``
  names a loopback address (a web page cannot reach it by DNS rebinding).
* A WebSocket must come from a page of this server: its ``Origin`` must be
  the server's own (browsers send it; a WebSocket without it is refused).
* :func:`resolve_log_file` opens only files inside the log directory.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AccessGuard", "LogPathError", "is_loopback", "resolve_log_file"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_REFUSED_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>LLMgine: access token needed</title></head><body style="font-family: sans-serif">
<h1>Access token needed</h1>
<p>This page needs the access token that <code>llmgine web</code> printed when it started.
Open the URL it printed (the one ending in <code>?token=...</code>).</p></body></html>"""
#: Headers of every answer: nothing is loaded from elsewhere, nothing runs inline.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        b"form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (``127.0.0.0/8``, ``::1``)."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class AccessGuard:
    """ASGI middleware: the token on every request, Host and Origin checks.

    Args:
        app: The application behind it.
        token: The access token.
        loopback_only: Answer only requests whose ``Host`` is a loopback name
            (the server listens on a loopback address).
    """

    def __init__(self, app: ASGIApp, token: str, *, loopback_only: bool = True) -> None:
        if not token:
            raise ValueError("the access token must not be empty")
        self.app = app
        self.token = token
        self.loopback_only = loopback_only

    def cookie_name(self, scope: Scope) -> str:
        """The token's cookie: one per port, as cookies do not tell ports apart."""
        server = scope.get("server") or ("", 0)
        return f"llmgine-token-{server[1] or 0}"

    def _matches(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(str(value).encode(), self.token.encode())

    def presented(self, scope: Scope) -> tuple[bool, bool]:
        """``(valid, from_query)``: whether the request carries the token, and in its URL."""
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if self._matches(query.get("token")):
            return True, True
        authorization = _header(scope, b"authorization") or ""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() in ("bearer", "token") and self._matches(value.strip()):
            return True, False
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie") or "")
        except Exception:  # a malformed cookie header is no token
            return False, False
        morsel = cookie.get(self.cookie_name(scope))
        return (morsel is not None and self._matches(morsel.value)), False

    def host_allowed(self, scope: Scope) -> bool:
        """False when the server is loopback-only and ``Host`` names another machine."""
        if not self.loopback_only:
            return True
        host = _header(scope, b"host")
        if not host:
            return False
        return is_loopback(urlsplit(f"//{host}").hostname or "")

    def origin_allowed(self, scope: Scope) -> bool:
        """True when the WebSocket's ``Origin`` is this server (same scheme, host and port)."""
        origin = _header(scope, b"origin")
        host = _header(scope, b"host")
        if not origin or not host:
            return False
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
            return False
        return parts.netloc.lower() == host.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what is not allowed; pass the rest on (setting the cookie when needed)."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        valid, from_query = self.presented(scope)
        if scope["type"] == "websocket":
            if not (self.host_allowed(scope) and self.origin_allowed(scope) and valid):
                await receive()  # the handshake's websocket.connect
                # Closed before it is accepted: the handshake is answered 403.
                await send({"type": "websocket.close", "code": 4403, "reason": "refused"})
                return
            await self.app(scope, receive, send)
            return
        if not self.host_allowed(scope):
            await _answer(send, 400, b"text/plain; charset=utf-8", b"unexpected Host header")
            return
        if not valid:
            await _answer(send, 403, b"text/html; charset=utf-8", _REFUSED_PAGE.encode())
            return
        cookie = self._cookie(scope) if from_query else None
        if from_query and scope["method"] in ("GET", "HEAD") and scope["path"] == "/":
            # Keep the token in the cookie, not in the address bar.
            query = [(k, v) for k, v in parse_qsl(scope["query_string"].decode()) if k != "token"]
            location = "/" + (f"?{urlencode(query)}" if query else "")
            await _answer(send, 303, b"text/plain", b"", [(b"location", location.encode())], cookie)
            return
        await self.app(scope, receive, _with_headers(send, cookie))

    def _cookie(self, scope: Scope) -> bytes:
        return f"{self.cookie_name(scope)}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()


def _with_headers(send: Send, cookie: bytes | None) -> Send:
    """``send`` adding the security headers (and the cookie) to the response's start."""

    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            names = {name.lower() for name, _ in headers}
            headers += [(name, value) for name, value in SECURITY_HEADERS if name not in names]
            if cookie is not None:
                headers.append((b"set-cookie", cookie))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _answer(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    extra: Iterable[tuple[bytes, bytes]] = (),
    cookie: bytes | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += list(extra)
    await _with_headers(send, cookie)(
        {"type": "http.response.start", "status": status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})


class LogPathError(ValueError):
    """A log file name that points outside the log directory, or at no log file."""


def resolve_log_file(log_dir: str | Path, name: str) -> Path:
    """The log file ``name`` (relative to ``log_dir``), refusing anything outside it.

    Absolute paths, ``..`` and symbolic links leading out of the directory,
    and files that are not ``.jsonl`` logs are refused.

    Raises:
        LogPathError: the name is refused (the message says why).
        FileNotFoundError: there is no such log file in the directory.
    """
    if not name or "\x00" in name:
        raise LogPathError("no log file named")
    relative = Path(name)
    if relative.is_absolute() or relative.drive or ".." in relative.parts:
        raise LogPathError(f"{name!r} is not a file inside the log directory")
    root = Path(log_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise LogPathError(f"{name!r} is not a file inside the log directory")
    if path.suffix != ".jsonl":
        raise LogPathError(f"{name!r} is not a log file (.jsonl)")
    if not path.is_file():
        raise FileNotFoundError(f"no log file {name!r} in the log directory")
    return path
