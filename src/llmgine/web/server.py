"""Serving the front end: a listening socket of our own, and uvicorn on it.

The socket is bound before the server starts, so ``--port 0`` (any free port)
is known, and printed, before the first request can come.
"""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["bind_socket", "serve", "url_host"]


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: a free one).

    Raises:
        OSError: the address cannot be used (taken, not this machine's...).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_host(sock: socket.socket) -> str:
    """``host:port`` of a bound socket as a URL names it (a wildcard address as 127.0.0.1)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(app: Any, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serve ``app`` on ``sock`` until the process is interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    await uvicorn.Server(config).serve(sockets=[sock])
