"""The web front end's application: the page, its WebSocket, the log files' trees.

Routes (every one behind :class:`~llmgine.web.security.AccessGuard`):

* ``GET /`` - the page; ``/static/...`` - its scripts and styles (shipped in
  the package; nothing is loaded from elsewhere).
* ``WS /ws?session=ID&since=SEQ&conversation=CID`` - a tab's session: first
  a ``hello`` message (the session id, whether it was resumed, its state),
  then every message numbered after ``since``, live. ``conversation`` asks for
  a stored conversation (its id or the start of it): the tab continues it.
  The page sends requests as JSON (``{"type": "prompt", "text": ...}``; see
  :meth:`WebSession.handle`).
* ``GET /api/conversations`` - the stored conversations, newest first;
* ``GET /api/logs`` - the runs under the log directory;
  ``GET /api/logs/trace?run=RUN`` or ``?file=NAME`` - a log's trees, read-only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from llmgine.bus.bus import MessageBus
from llmgine.bus.interface import Bus
from llmgine.bus.transport import Transport
from llmgine.context.conversations import ConversationStore
from llmgine.errors import ConfigurationError, LLMgineError
from llmgine.observability.base import dumps_json
from llmgine.observability.journal import Journal, RunSummary, run_files, summarize
from llmgine.observability.redaction import Redactor, default_redactor
from llmgine.web.registry import (
    CLOSE_ENDED,
    CLOSE_TOO_MANY,
    Connection,
    EngineFactory,
    SessionRegistry,
    TooManySessionsError,
)
from llmgine.web.security import AccessGuard, LogPathError, resolve_log_file
from llmgine.web.session import WebSession
from llmgine.web.trace import trees_json

__all__ = ["WebSettings", "create_app"]

#: Closes a connection whose session could not be made (the message says why).
CLOSE_FAILED = 4500
_MAX_TREES = 500
_MAX_CONVERSATIONS = 200


@dataclass
class WebSettings:
    """How the web front end runs.

    Attributes:
        token: The access token every request needs.
        log_dir: The log directory the trace view may open files from (only there).
        title: What the page's header says.
        notices: Warnings every page shows in its banner (the offline model's...).
        approval_timeout: Seconds a tool approval waits for the page before it is denied.
        idle_timeout: Seconds a session is kept after its tab disconnects.
        max_sessions: Most sessions kept at once.
        outbox_items: Most messages kept per session for a tab that reconnects.
        outbox_bytes: Most bytes of messages kept per session.
        loopback_only: Answer only requests addressed to a loopback name
            (the server listens on a loopback address).
        max_log_bytes: The largest log the trace view opens.
    """

    token: str
    log_dir: str | Path = "logs"
    title: str = "LLMgine"
    notices: list[str] = field(default_factory=list)
    approval_timeout: float = 120.0
    idle_timeout: float = 900.0
    max_sessions: int = 32
    outbox_items: int = 5000
    outbox_bytes: int = 8_000_000
    loopback_only: bool = True
    max_log_bytes: int = 64_000_000


def _json(data: Any, status: int = 200) -> Response:
    return Response(dumps_json(data), status_code=status, media_type="application/json")


def create_app(
    factory: EngineFactory,
    settings: WebSettings,
    *,
    bus: Bus | None = None,
    redactor: Redactor | None = None,
    transport: Transport | None = None,
    conversations: ConversationStore | None = None,
) -> Starlette:
    """The front end's ASGI application (serve it with uvicorn, test it with TestClient).

    Args:
        factory: Makes the engine of each new session, given the session id
            (the engine must use that session id and ``bus``), or a
            :class:`~llmgine.web.driver.RemoteEngine` for engines on workers.
        settings: Token, log directory, timeouts, limits.
        bus: The bus the engines publish on (default: the message bus
            singleton, started with the application if it is not running).
        redactor: What masks secrets in everything sent (default: the shared one).
        transport: Attached to the bus when the application starts (unless it
            is attached already) and detached when it stops: the bus across
            processes, for engines on workers (a ``RedisTransport`` sharing
            :data:`~llmgine.engines.ui_events.UI_EVENTS`).
        conversations: The store the engines keep their conversations in, which
            the page lists (``GET /api/conversations``); None: nothing is stored.

    Raises:
        ConfigurationError: a transport for a bus that is not a ``MessageBus``.
    """
    the_bus: Bus = bus if bus is not None else MessageBus()
    if transport is not None and not isinstance(the_bus, MessageBus):
        raise ConfigurationError("a transport attaches to a MessageBus, not to this bus")
    masker = redactor or default_redactor()
    registry = SessionRegistry(
        factory,
        bus=the_bus,
        notices=settings.notices,
        approval_timeout=settings.approval_timeout,
        idle_timeout=settings.idle_timeout,
        max_sessions=settings.max_sessions,
        outbox_items=settings.outbox_items,
        outbox_bytes=settings.outbox_bytes,
        redactor=masker,
    )
    log_dir = Path(settings.log_dir)
    title = masker.redact_text(settings.title)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A bus the application started is stopped with it; one already running is left be.
        own = the_bus if isinstance(the_bus, MessageBus) and not the_bus.is_running else None
        if own is not None:
            await own.start()
        attached = None
        if transport is not None and isinstance(the_bus, MessageBus):
            if the_bus.transport is not transport:
                await the_bus.attach(transport)
                attached = the_bus
        try:
            yield
        finally:
            await registry.close_all()
            if attached is not None and attached.transport is transport:
                await attached.detach()
            if own is not None:
                await own.stop()

    async def page(request: Request) -> Response:
        html = resources.files("llmgine.web").joinpath("static/index.html").read_bytes()
        return HTMLResponse(html.replace(b"{{title}}", _escape(title).encode()))

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await _serve_socket(websocket, registry, masker, title)

    async def logs(request: Request) -> Response:
        runs = await run_in_threadpool(_runs_inside, log_dir)
        listing = [
            {
                "run": run.run,
                "started": run.started,
                "engine": run.engine,
                "models": run.models,
                "turns": run.turns,
                "tokens": run.tokens,
                "cost_usd": run.cost_usd,
                "files": [_relative(path, log_dir) for path in run.files],
            }
            for run in runs
        ]
        return _json(masker.redact({"log_dir": str(log_dir), "runs": listing}))

    async def stored(request: Request) -> Response:
        if conversations is None:
            return _json({"stored": False, "conversations": []})
        try:
            infos = conversations.list_conversations(limit=_MAX_CONVERSATIONS)
        except LLMgineError as exc:
            return _json({"error": masker.redact_text(str(exc))}, 500)
        listing = [info.to_dict() for info in infos]
        data = {"stored": True, "path": str(conversations.path), "conversations": listing}
        return _json(masker.redact(data))

    async def log_trace(request: Request) -> Response:
        name, run = request.query_params.get("file"), request.query_params.get("run")
        try:
            if name:
                files = [resolve_log_file(log_dir, name)]
            elif run:
                files = _files_inside(log_dir).get(run) or []
                if not files:
                    raise FileNotFoundError(f"no run {run!r} in the log directory")
            else:
                return _json({"error": "name a log: ?run=RUN or ?file=NAME"}, 400)
        except LogPathError as exc:
            return _json({"error": str(exc)}, 403)
        except FileNotFoundError as exc:
            return _json({"error": str(exc)}, 404)
        size = sum(path.stat().st_size for path in files)
        if size > settings.max_log_bytes:
            error = f"the log is {size:,} bytes, more than the {settings.max_log_bytes:,} shown"
            return _json({"error": error}, 413)
        journal = await run_in_threadpool(Journal.read, files)
        trees = trees_json(journal, unended="unfinished")
        data = {
            "files": [_relative(path, log_dir) for path in files],
            "problems": journal.problems[:50],
            "trees": trees[-_MAX_TREES:],
            "omitted": max(0, len(trees) - _MAX_TREES),
        }
        return _json(masker.redact(data))

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/conversations", stored),
            Route("/api/logs", logs),
            Route("/api/logs/trace", log_trace),
            WebSocketRoute("/ws", socket),
            Mount("/static", StaticFiles(packages=[("llmgine.web", "static")]), name="static"),
        ],
        middleware=[
            Middleware(AccessGuard, token=settings.token, loopback_only=settings.loopback_only)
        ],
        lifespan=lifespan,
    )
    app.state.registry = registry
    return app


def _files_inside(log_dir: Path) -> dict[str, list[Path]]:
    """The log files of each run, leaving out links that lead out of the directory."""
    if not log_dir.is_dir():
        return {}
    root = log_dir.resolve()
    runs = {
        run: [path for path in files if path.resolve().is_relative_to(root) and path.is_file()]
        for run, files in run_files(log_dir).items()
    }
    return {run: files for run, files in runs.items() if files}


def _runs_inside(log_dir: Path) -> list[RunSummary]:
    """What ``llmgine logs list`` shows, of the files inside the log directory only."""
    summaries = [summarize(run, files) for run, files in _files_inside(log_dir).items()]
    return sorted(summaries, key=lambda s: (s.started, s.run), reverse=True)


def _relative(path: Path, log_dir: Path) -> str:
    """A log file's name as the trace view shows (and asks for) it: inside the log directory."""
    return path.resolve().relative_to(log_dir.resolve()).as_posix()


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


async def _serve_socket(
    websocket: WebSocket, registry: SessionRegistry, masker: Redactor, title: str
) -> None:
    """One tab's connection: hello, then the session's messages out and requests in."""
    requested = websocket.query_params.get("session") or None
    conversation = (websocket.query_params.get("conversation") or "").strip() or None
    try:
        since = max(0, int(websocket.query_params.get("since") or 0))
    except ValueError:
        since = 0
    connection = Connection()
    try:
        session, resumed = await registry.attach(requested, connection, conversation)
    except TooManySessionsError as exc:
        await websocket.close(CLOSE_TOO_MANY, str(exc)[:120])
        return
    except LLMgineError as exc:
        await websocket.send_text(
            dumps_json({"kind": "fatal", "error": masker.redact_text(str(exc))}).decode()
        )
        await websocket.close(CLOSE_FAILED, "the session could not start")
        return
    if not resumed or session.session_id != requested or since > session.outbox.last_seq:
        since = 0  # the whole session: new, taken over from another tab, or restarted
    hello = {
        "kind": "hello",
        "session_id": session.session_id,
        "resumed": resumed,
        "requested": requested,
        "conversation": conversation,
        "since": since,
        "last_seq": session.outbox.last_seq,
        "title": title,
        "state": session.state(),
    }
    await websocket.send_text(dumps_json(hello).decode())
    sender = asyncio.create_task(_send(websocket, session, connection, since))
    try:
        await _receive(websocket, session)
    finally:
        # Nothing awaited here: a handler cancelled while it ends still lets the session go.
        registry.detach(session, connection)
        sender.cancel()
        sender.add_done_callback(_consume_outcome)


def _consume_outcome(task: asyncio.Task[None]) -> None:
    """Take a finished sender's error (the connection was gone), so it is not reported."""
    if not task.cancelled():
        task.exception()


async def _receive(websocket: WebSocket, session: WebSession) -> None:
    """Hand each request of the page to its session, until the page goes.

    A connection the sender closed (taken over, session ended) ends here too:
    the peer answers the close, and that is a disconnect.
    """
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            try:
                request = json.loads(text) if text is not None else None
            except ValueError:
                request = None
            await session.handle(request)
    except WebSocketDisconnect:
        return


async def _send(
    websocket: WebSocket, session: WebSession, connection: Connection, since: int
) -> None:
    """Send the session's messages numbered after ``since``, then each new one, in order."""
    last = since
    while connection.close_code is None and not session.outbox.closed:
        items, dropped = session.outbox.after(last)
        if dropped:
            await websocket.send_text(dumps_json({"kind": "gap", "after": last}).decode())
        for seq, text in items:
            await websocket.send_text(text)
            last = seq
        if not items:
            await session.outbox.wait(last)
    code = connection.close_code or CLOSE_ENDED
    await websocket.close(code, connection.close_reason or "the session ended")
