"""A small HTTP server on 127.0.0.1 that answers like a model provider.

Tests queue the answers (JSON, SSE streams, errors, slow replies) and read back
what the real SDK clients sent. It runs in a thread, so the SDKs' own HTTP
stacks are exercised end to end.

Streams are sent with ``Transfer-Encoding: chunked``, as the real APIs send
them, so the faults a client can meet are all reproducible:

* a stream *cut short*: the server ends the body properly after a prefix of
  the events (``Reply(chunks=events[:n])``);
* a *dropped* connection: ``drop_after=n`` closes the socket after ``n``
  chunks without ending the body (the client sees an incomplete chunked read);
* a *stalled* stream: ``stall_after=n`` sends ``n`` chunks and then nothing,
  keeping the connection open until the client gives up (its read timeout)
  or the server stops; no test waits on a clock for it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# A stalled reply holds its connection at most this long (a safety net only).
_STALL_LIMIT = 120.0


@dataclass
class Reply:
    """One scripted answer.

    Attributes:
        chunks: A streamed body, written one chunk at a time (chunked encoding).
        drop_after: Close the connection after this many chunks, mid-body.
        stall_after: Send this many chunks, then nothing (the connection stays open).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    delay: float = 0.0
    drop_after: int | None = None
    stall_after: int | None = None


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        body=json.dumps(data).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


def sse_reply(events: list[tuple[str | None, Any]], done: bool = False) -> Reply:
    """An SSE stream: ``(event_name_or_None, data)`` pairs; ``done`` adds ``data: [DONE]``."""
    chunks = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        prefix = f"event: {name}\n" if name else ""
        chunks.append(f"{prefix}data: {text}\n\n".encode())
    if done:
        chunks.append(b"data: [DONE]\n\n")
    return Reply(status=200, headers={"content-type": "text/event-stream"}, chunks=chunks)


def sse_events(text: str) -> list[bytes]:
    """The events of a recorded SSE body, one chunk each (``: comment`` lines dropped)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if lines:
            events.append(("\n".join(lines) + "\n\n").encode())
    return events


def sse_file_reply(path: str | Path, **fault: Any) -> Reply:
    """A recorded SSE body from a file, event by event (``fault``: ``drop_after``...)."""
    chunks = sse_events(Path(path).read_text())
    return Reply(status=200, headers={"content-type": "text/event-stream"}, chunks=chunks, **fault)


class FakeProviderServer:
    """Start with ``with FakeProviderServer() as server:``; ``server.url`` is its base URL."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        # Set when the server stops: stalled replies let go of their connection.
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are separate writes: without this, Nagle's
            # algorithm and the client's delayed ACK add ~40 ms to each reply.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.received.append(
                        Received(
                            "POST",
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    reply = server.replies.pop(0) if server.replies else None
                if reply is None:
                    reply = json_reply({"error": {"message": "no reply scripted"}}, status=599)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if reply.chunks is None:
                        self.send_header("content-length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                    else:
                        self._stream(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _stream(self, reply: Reply) -> None:
                assert reply.chunks is not None
                self.send_header("transfer-encoding", "chunked")
                self.send_header("connection", "close")
                self.end_headers()
                self.close_connection = True
                for number, chunk in enumerate(reply.chunks):
                    if number == reply.drop_after:
                        self._drop()
                        return
                    if number == reply.stall_after:
                        self._stall()
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                if reply.drop_after is not None:
                    self._drop()
                elif reply.stall_after is not None:
                    self._stall()
                else:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()

            def _drop(self) -> None:
                # Mid-body, without the last chunk: the client sees the peer vanish.
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)

            def _stall(self) -> None:
                # Nothing more, until the client closes the connection or the server stops.
                self.wfile.flush()
                self.connection.settimeout(0.05)
                deadline = time.monotonic() + _STALL_LIMIT
                while not server._stopping.is_set() and time.monotonic() < deadline:
                    try:
                        if self.connection.recv(1) == b"":
                            return  # the client hung up
                    except TimeoutError:
                        continue
                    except OSError:
                        return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval only makes shutdown() quick at the end of a test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def __enter__(self) -> FakeProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
