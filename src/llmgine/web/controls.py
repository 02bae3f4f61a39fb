"""The page's controls: what the CLI's slash commands do, as requests from the page.

``clear`` forgets the conversation (a stored one is deleted), ``new`` starts
a new one (a stored one stays stored), ``model`` switches the model, ``system``
sets (or removes) the system prompt, ``cost`` reports the tokens and cost of
the session. Each acts on the session's :class:`~llmgine.web.driver.EngineDriver`:
a local engine that has the matching method (``clear_context``, ``set_model``,
``set_system_prompt``, ``usage``), as the slash commands do; an engine on
Redis workers only reports its cost. For the others the page's control is
disabled and the request answered with a notice saying why. Nothing that
changes the conversation runs while a turn is being answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from llmgine.web.driver import EngineDriver

__all__ = ["ControlHost", "Controls"]


class ControlHost(Protocol):
    """What the controls use of a session (a :class:`~llmgine.web.session.WebSession` is one)."""

    @property
    def driver(self) -> EngineDriver:
        """The engine the controls act on."""
        ...

    @property
    def turn_running(self) -> bool:
        """True while a prompt is being answered."""
        ...

    def post(self, message: dict[str, Any], key: str | None = None) -> int:
        """Send a message to the page."""
        ...

    def notice(self, text: str, level: str = "info") -> None:
        """One line for the page."""
        ...

    def post_state(self) -> None:
        """Send the session's state."""
        ...

    def model_warning(self) -> None:
        """Warn when the model has no API key."""
        ...


class Controls:
    """The controls of one session, by the ``type`` of the page's request.

    Args:
        session: The session whose engine they act on.
    """

    def __init__(self, session: ControlHost) -> None:
        self.session = session

    def supported(self) -> dict[str, bool]:
        """Which controls the engine supports (the page disables the others)."""
        return self.session.driver.supported()

    def get(self, kind: str) -> Callable[[dict[str, Any]], Any] | None:
        """The control for a request type, None when there is none."""
        actions: dict[str, Callable[[dict[str, Any]], Any]] = {
            "clear": self.clear,
            "new": self.new,
            "model": self.model,
            "system": self.system,
            "cost": self.cost,
            "state": self.state,
        }
        return actions.get(kind)

    def _ready(self, kind: str, changes: bool = True) -> bool:
        """True when the control may run now; otherwise say why."""
        driver = self.session.driver
        if not driver.supported().get(kind, False):
            self.session.notice(driver.unsupported(kind), "warning")
            return False
        if changes and self.session.turn_running:
            self.session.notice(f"A turn is running: press Stop before {kind}.", "warning")
            return False
        return True

    async def clear(self, message: dict[str, Any]) -> None:
        """Forget the conversation (the system prompt stays)."""
        if not self._ready("clear"):
            return
        await self.session.driver.clear()
        self.session.post({"kind": "cleared"})
        self.session.notice("Conversation cleared.")
        self.session.post_state()

    async def new(self, message: dict[str, Any]) -> None:
        """Start a new conversation; a stored one stays in the store (the CLI's ``/new``)."""
        if not self._ready("new"):
            return
        previous = self.session.driver.conversation_id
        new_id = await self.session.driver.new_conversation()
        self.session.post({"kind": "new_conversation", "conversation_id": new_id})
        if new_id is None:
            self.session.notice("New conversation (the previous one was not stored).")
        elif previous:
            self.session.notice(f"New conversation {new_id}; {previous} stays stored.")
        else:
            self.session.notice(f"New conversation {new_id}.")
        self.session.post_state()

    async def model(self, message: dict[str, Any]) -> None:
        """Switch to ``message["model"]`` (``provider:model``)."""
        name = str(message.get("model") or "").strip()
        if not name:
            self.session.notice("Name a model, e.g. openai:gpt-4.1-mini or demo.", "warning")
            return
        if not self._ready("model"):
            return
        chosen = await self.session.driver.set_model(name)
        self.session.notice(f"Model: {chosen}")
        self.session.model_warning()
        self.session.post_state()

    async def system(self, message: dict[str, Any]) -> None:
        """Set the system prompt to ``message["prompt"]``; an empty or null one removes it."""
        if not self._ready("system"):
            return
        prompt = message.get("prompt")
        text = prompt.strip() if isinstance(prompt, str) else ""
        await self.session.driver.set_system_prompt(text or None)
        self.session.notice("System prompt set." if text else "System prompt removed.")
        self.session.post_state()

    def cost(self, message: dict[str, Any]) -> None:
        """Report the tokens and cost of the session and of the last turn."""
        if not self._ready("cost", changes=False):
            return
        usage = self.session.driver.usage()
        if usage is None:
            self.session.notice("No turn has been answered yet: no tokens used.")
            return
        session = usage.get("session_usage") or {}
        line = f"Session: {_tokens(session)}, cost {_dollars(usage.get('session_cost_usd'))}"
        turn = usage.get("usage") or {}
        if int(turn.get("total_tokens") or 0):
            line += f"; last turn: {_tokens(turn)}, cost {_dollars(usage.get('cost_usd'))}"
        self.session.notice(line)
        self.session.post_state()

    def state(self, message: dict[str, Any]) -> None:
        """Send the state again."""
        self.session.post_state()


def _tokens(usage: dict[str, Any]) -> str:
    total = int(usage.get("total_tokens") or 0)
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return f"{total:,} tokens ({prompt:,} in, {completion:,} out)"


def _dollars(cost: Any) -> str:
    return "unknown" if cost is None else f"${float(cost):.4f}"
