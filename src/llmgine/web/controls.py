"""The page's controls: what the CLI's slash commands do, as requests from the page.

``clear`` forgets the conversation, ``model`` switches the model, ``system``
sets (or removes) the system prompt, ``cost`` reports the tokens and cost of
the session. Each works with any engine that has the matching attribute
(``clear_context``, ``set_model``, ``set_system_prompt``, ``usage``), as the
slash commands do; for others the page's control is disabled and the request
answered with a notice. Nothing that changes the conversation runs while a
turn is being answered.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ControlHost", "Controls"]


class ControlHost(Protocol):
    """What the controls use of a session (a :class:`~llmgine.web.session.WebSession` is one)."""

    @property
    def engine(self) -> Any:
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


_NEEDS = {
    "clear": ("clear_context",),
    "model": ("set_model",),
    "system": ("set_system_prompt",),
    "cost": ("usage",),
}


class Controls:
    """The controls of one session, by the ``type`` of the page's request.

    Args:
        session: The session whose engine they act on.
    """

    def __init__(self, session: ControlHost) -> None:
        self.session = session

    def supported(self) -> dict[str, bool]:
        """Which controls the engine supports (the page disables the others)."""
        engine = self.session.engine
        return {
            name: all(hasattr(engine, attribute) for attribute in needs)
            for name, needs in _NEEDS.items()
        }

    def get(self, kind: str) -> Callable[[dict[str, Any]], Any] | None:
        """The control for a request type, None when there is none."""
        actions: dict[str, Callable[[dict[str, Any]], Any]] = {
            "clear": self.clear,
            "model": self.model,
            "system": self.system,
            "cost": self.cost,
            "state": self.state,
        }
        return actions.get(kind)

    def _ready(self, kind: str, changes: bool = True) -> bool:
        """True when the control may run now; otherwise say why."""
        if not self.supported().get(kind, False):
            name = type(self.session.engine).__name__
            self.session.notice(f"{kind} is not supported by {name}.", "warning")
            return False
        if changes and self.session.turn_running:
            self.session.notice(f"A turn is running: press Stop before {kind}.", "warning")
            return False
        return True

    async def clear(self, message: dict[str, Any]) -> None:
        """Forget the conversation (the system prompt stays)."""
        if not self._ready("clear"):
            return
        await _maybe_await(self.session.engine.clear_context())
        self.session.post({"kind": "cleared"})
        self.session.notice("Conversation cleared.")
        self.session.post_state()

    async def model(self, message: dict[str, Any]) -> None:
        """Switch to ``message["model"]`` (``provider:model``)."""
        name = str(message.get("model") or "").strip()
        if not name:
            self.session.notice("Name a model, e.g. openai:gpt-4.1-mini or demo.", "warning")
            return
        if not self._ready("model"):
            return
        engine = self.session.engine
        await _maybe_await(engine.set_model(name))
        self.session.notice(f"Model: {engine.model.model_string}")
        self.session.model_warning()
        self.session.post_state()

    async def system(self, message: dict[str, Any]) -> None:
        """Set the system prompt to ``message["prompt"]``; an empty or null one removes it."""
        if not self._ready("system"):
            return
        prompt = message.get("prompt")
        text = prompt.strip() if isinstance(prompt, str) else ""
        await _maybe_await(self.session.engine.set_system_prompt(text or None))
        self.session.notice("System prompt set." if text else "System prompt removed.")
        self.session.post_state()

    def cost(self, message: dict[str, Any]) -> None:
        """Report the tokens and cost of the session and of the last turn."""
        if not self._ready("cost", changes=False):
            return
        usage = self.session.engine.usage
        line = f"Session: {_tokens(usage.session)}, cost {_dollars(usage.session_cost_usd)}"
        if int(getattr(usage.turn, "total_tokens", 0) or 0):
            line += f"; last turn: {_tokens(usage.turn)}, cost {_dollars(usage.turn_cost_usd)}"
        self.session.notice(line)
        self.session.post_state()

    def state(self, message: dict[str, Any]) -> None:
        """Send the state again."""
        self.session.post_state()


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _tokens(usage: Any) -> str:
    total = int(getattr(usage, "total_tokens", 0) or 0)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    return f"{total:,} tokens ({prompt:,} in, {completion:,} out)"


def _dollars(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"
