"""The web front end: the engines' chat in a browser page, over a WebSocket (``llmgine web``).

Like the terminal CLI the page only listens to bus events and sends
commands: every browser tab is a bus session with its own engine. A live
trace view shows each turn's tree (command -> model calls -> tool calls)
and opens the logs of the log directory read-only. Every request needs the
access token printed at start; nothing is loaded from the internet.

Needs the ``web`` extra (``pip install 'llmgine[web]'``)::

    from llmgine.web import WebSettings, create_app

    async def engine_for(session_id: str) -> Engine:
        return ToolChatEngine(session_id=session_id, model="demo", stream=True)

    app = create_app(engine_for, WebSettings(token="..."))  # an ASGI app

Tabs that continue stored conversations (``/?conversation=ID``): a factory
that takes the conversation id too, and the store the page lists::

    async def stored(session_id: str, conversation_id: str | None = None) -> Engine:
        return ToolChatEngine(session_id=session_id, model="demo", db=store,
                              conversation_id=conversation_id)

    app = create_app(stored, WebSettings(token="..."), conversations=store)

With the engines on Redis workers (``llmgine worker --redis URL``), each tab
sends its prompts to them instead::

    async def remote(session_id: str) -> RemoteEngine:
        return RemoteEngine(ToolChatEngineCommand)

    app = create_app(remote, settings, transport=RedisTransport(url, events=UI_EVENTS))
"""

from llmgine.web.app import WebSettings, create_app
from llmgine.web.driver import EngineDriver, LocalEngine, RemoteEngine
from llmgine.web.outbox import Outbox
from llmgine.web.registry import ConversationsUnavailableError, EngineFactory, SessionRegistry
from llmgine.web.security import AccessGuard, is_loopback, resolve_log_file
from llmgine.web.server import bind_socket, serve, url_host
from llmgine.web.session import WebSession

__all__ = [
    "AccessGuard",
    "ConversationsUnavailableError",
    "EngineDriver",
    "EngineFactory",
    "LocalEngine",
    "Outbox",
    "RemoteEngine",
    "SessionRegistry",
    "WebSession",
    "WebSettings",
    "bind_socket",
    "create_app",
    "is_loopback",
    "resolve_log_file",
    "serve",
    "url_host",
]
