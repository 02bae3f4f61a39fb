"""The sessions of the web front end: one per browser tab, kept a while for a reconnect.

A tab connects without a session id and gets a new session (a new engine, a
new bus session); one that names a stored conversation gets a session whose
engine continues it, or takes over the session of the tab that has it open
(one engine per conversation, so two tabs never write it at once). When its
connection drops, the session stays for
``idle_timeout`` seconds; the tab reconnects with its id and the number of
the last message it saw, and gets the messages it missed. A second
connection for the same session takes it over; the first is told so and
closed (close code 4409).
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence

from llmgine.bus.interface import Bus
from llmgine.engines.base import Engine
from llmgine.errors import LLMgineError
from llmgine.observability.redaction import Redactor
from llmgine.web.driver import EngineDriver
from llmgine.web.outbox import Outbox
from llmgine.web.session import WebSession

__all__ = [
    "CLOSE_ENDED",
    "CLOSE_SUPERSEDED",
    "CLOSE_TOO_MANY",
    "Connection",
    "ConversationsUnavailableError",
    "EngineFactory",
    "SessionRegistry",
    "TooManySessionsError",
]

#: Makes the engine of a new session (or what drives one elsewhere), given the session
#: id; a factory that also takes a second argument, the id (or the start of the id) of
#: a stored conversation, can make engines that continue one.
EngineFactory = Callable[..., Awaitable[Engine | EngineDriver]]

#: WebSocket close codes the page acts on.
CLOSE_SUPERSEDED = 4409  # the session was opened by another connection (another tab)
CLOSE_ENDED = 4410  # the session ended (expired, or the server is stopping)
CLOSE_TOO_MANY = 4429  # no room for another session


class TooManySessionsError(LLMgineError):
    """Every session is in use by a connected tab: no room for another."""


class ConversationsUnavailableError(LLMgineError):
    """A tab asked for a stored conversation, and this server's engines keep none."""


class Connection:
    """One WebSocket's hold on a session; told to close when another takes it over."""

    def __init__(self) -> None:
        self.close_code: int | None = None
        self.close_reason = ""

    def close(self, code: int, reason: str) -> None:
        """Ask the connection's sender to close with ``code``."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason


class SessionRegistry:
    """Every live session, by id.

    Args:
        factory: Makes each new session's engine.
        bus: The bus the engines publish on.
        notices: Warnings every page shows (the offline model's...).
        approval_timeout: Seconds a tool approval waits for the page.
        idle_timeout: Seconds a session without a connection is kept.
        max_sessions: Most sessions at once; past it the longest idle one is
            ended (or, when every one is connected, the new one refused).
        outbox_items: Most messages kept per session for a reconnect.
        outbox_bytes: Most bytes of messages kept per session.
        redactor: What masks secrets (default: the shared one).
    """

    def __init__(
        self,
        factory: EngineFactory,
        *,
        bus: Bus,
        notices: Sequence[str] = (),
        approval_timeout: float = 120.0,
        idle_timeout: float = 900.0,
        max_sessions: int = 32,
        outbox_items: int = 5000,
        outbox_bytes: int = 8_000_000,
        redactor: Redactor | None = None,
    ) -> None:
        self.factory = factory
        self.bus = bus
        self.notices = list(notices)
        self.approval_timeout = approval_timeout
        self.idle_timeout = idle_timeout
        self.max_sessions = max(1, max_sessions)
        self.outbox_items = outbox_items
        self.outbox_bytes = outbox_bytes
        self.redactor = redactor
        self.sessions: dict[str, WebSession] = {}
        self._owners: dict[str, Connection] = {}
        self._idle_since: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._takes_conversation = _takes_two(factory)

    def connected(self, session_id: str) -> bool:
        """True while a connection holds the session."""
        return session_id in self._owners

    async def attach(
        self, session_id: str | None, connection: Connection, conversation: str | None = None
    ) -> tuple[WebSession, bool]:
        """The session ``session_id`` for ``connection`` (a new one if it is not live).

        Args:
            session_id: The session the tab had (None: it had none).
            connection: The tab's connection.
            conversation: A stored conversation the tab asks for (its id or the
                start of it): the session ``session_id`` when it is in that
                conversation, else the live session that is, else a new one
                continuing it.

        Returns:
            The session, and True when it was an existing one (resumed).

        Raises:
            TooManySessionsError: no room for a new session.
            ConversationsUnavailableError: a conversation was asked for and the
                factory makes no engines that continue one.
            LLMgineError: the new session's engine could not be made (a
                conversation that is not stored...).
        """
        async with self._lock:
            session = self.sessions.get(session_id or "")
            if session is None or session.closed or not _in(session, conversation):
                session = self._holding(conversation) if conversation else None
            if session is not None and not session.closed:
                previous = self._owners.get(session.session_id)
                if previous is not None and previous is not connection:
                    previous.close(CLOSE_SUPERSEDED, "this conversation was opened elsewhere")
                    session.outbox.wake()
                self._hold(session.session_id, connection)
                return session, True
            await self._make_room()
            new_id = f"web-{secrets.token_hex(8)}"
            engine = await self._make(new_id, conversation)
            session = WebSession(
                new_id,
                engine,
                bus=self.bus,
                notices=self.notices,
                approval_timeout=self.approval_timeout,
                outbox=Outbox(self.outbox_items, self.outbox_bytes),
                redactor=self.redactor,
            )
            await session.open()
            self.sessions[new_id] = session
            self._hold(new_id, connection)
            return session, False

    async def _make(self, session_id: str, conversation: str | None) -> Engine | EngineDriver:
        if conversation is None:
            return await self.factory(session_id)
        if not self._takes_conversation:
            raise ConversationsUnavailableError(
                f"this server keeps no stored conversations, so it cannot open {conversation!r} "
                "(start llmgine web without --no-save or --redis to store them)"
            )
        return await self.factory(session_id, conversation)

    def _holding(self, conversation: str) -> WebSession | None:
        """The live session in ``conversation`` (an id, or the unique start of one)."""
        found = [s for s in self.sessions.values() if not s.closed and _in(s, conversation)]
        exact = [
            s for s in found if (s.driver.conversation_id or "").lower() == conversation.lower()
        ]
        if exact:
            return exact[0]
        return found[0] if len(found) == 1 else None

    def _hold(self, session_id: str, connection: Connection) -> None:
        self._owners[session_id] = connection
        self._idle_since.pop(session_id, None)
        timer = self._timers.pop(session_id, None)
        if timer is not None:
            timer.cancel()

    async def _make_room(self) -> None:
        while len(self.sessions) >= self.max_sessions:
            idle = [sid for sid in self.sessions if sid not in self._owners]
            if not idle:
                raise TooManySessionsError(
                    f"{len(self.sessions)} tabs are connected, the most this server keeps; "
                    "close one and reload"
                )
            oldest = min(idle, key=lambda sid: self._idle_since.get(sid, 0.0))
            await self.close_session(oldest)

    def detach(self, session: WebSession, connection: Connection) -> None:
        """``connection`` let go of ``session``: keep it ``idle_timeout`` seconds, then end it."""
        sid = session.session_id
        if self._owners.get(sid) is not connection:
            return  # taken over by another connection already
        del self._owners[sid]
        self._idle_since[sid] = time.monotonic()
        loop = asyncio.get_running_loop()
        self._timers[sid] = loop.call_later(self.idle_timeout, self._expire, sid)

    def _expire(self, session_id: str) -> None:
        self._timers.pop(session_id, None)
        if session_id in self._owners:
            return
        task = asyncio.get_running_loop().create_task(self.close_session(session_id))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close_session(self, session_id: str) -> None:
        """End one session: its turn is cancelled, its handlers go, its page is told."""
        session = self.sessions.pop(session_id, None)
        timer = self._timers.pop(session_id, None)
        if timer is not None:
            timer.cancel()
        self._idle_since.pop(session_id, None)
        owner = self._owners.pop(session_id, None)
        if owner is not None:
            owner.close(CLOSE_ENDED, "the session ended")
        if session is not None:
            await session.close()

    async def close_all(self) -> None:
        """End every session (the server is stopping)."""
        for session_id in list(self.sessions):
            await self.close_session(session_id)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _in(session: WebSession, conversation: str | None) -> bool:
    """True when ``session`` is in ``conversation`` (or none was asked for)."""
    if conversation is None:
        return True
    current = session.driver.conversation_id
    # As the store finds ids (SQL LIKE): whatever the case the address gives.
    return current is not None and current.lower().startswith(conversation.lower())


def _takes_two(factory: EngineFactory) -> bool:
    """Whether ``factory`` can be given a conversation id after the session id."""
    try:
        inspect.signature(factory).bind("session", "conversation")
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): try it
        return True
    return True
