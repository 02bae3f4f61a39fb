"""What a tab's session drives: the engine that answers it, here or on Redis workers.

A :class:`~llmgine.web.session.WebSession` sends each prompt as its driver's
command and shows the events of its session. What differs between an engine
in this process and one on a worker is here, behind :class:`EngineDriver`:

* :class:`LocalEngine` - the tab's own engine, registered as the command's
  handler in the tab's session; the controls (clear, new conversation,
  model, system prompt, cost) act on it, and a stored conversation it
  continues is shown in the page.
* :class:`RemoteEngine` - no engine here: the command goes through the bus's
  transport to a worker (``llmgine worker --redis``), which keeps the
  conversation. The page learns the worker's model and tools from the run's
  header (:class:`~llmgine.engines.messages.RunStartedEvent`) and the usage
  from each result. The controls that change the engine are off (the workers
  choose the model, the system prompt and the tools; a new tab is a new
  conversation); cost works, from the results; Stop cancels the turn on its
  worker (the transport cancels a command whose caller is cancelled).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any

from llmgine.bus.session import BusSession
from llmgine.engines.base import Engine, UsageTotals
from llmgine.engines.defaults import missing_key_warning
from llmgine.engines.messages import EngineCommand, RunStartedEvent
from llmgine.errors import LLMgineError
from llmgine.messages.commands import CommandResult
from llmgine.messages.events import Event

__all__ = ["CONTROLS", "EngineDriver", "LocalEngine", "RemoteEngine", "UnsupportedControlError"]

#: The page's controls that act on the engine.
CONTROLS = ("clear", "new", "model", "system", "cost")
_USAGE_KEYS = ("usage", "cost_usd", "session_usage", "session_cost_usd")


class UnsupportedControlError(LLMgineError):
    """A control the driven engine does not have (the page shows why)."""


class EngineDriver(ABC):
    """The engine a tab talks to, as its session needs it.

    Attributes:
        command_type: The command each prompt is sent as.
    """

    command_type: type[EngineCommand]

    @property
    def engine(self) -> Engine | None:
        """The engine in this process (None when it runs elsewhere)."""
        return None

    @property
    def remote(self) -> bool:
        """True when the engine runs in another process."""
        return False

    @property
    def conversation_id(self) -> str | None:
        """The id of the stored conversation the engine is in (None: not stored here)."""
        return None

    def history(self) -> list[dict[str, Any]]:
        """The messages of the conversation so far (a continued one's), oldest first."""
        return []

    def open(self, session: BusSession) -> None:
        """Register what the engine needs in the tab's bus session."""
        return None  # nothing by default

    async def close(self) -> None:
        """Release what the engine holds (its MCP servers...)."""
        return None  # nothing by default

    def command(self, prompt: str, session_id: str) -> EngineCommand:
        """The command for one prompt of the tab."""
        return self.command_type(prompt=prompt, session_id=session_id)

    def observe(self, event: Event) -> bool:
        """See one event of the session; True when :meth:`describe` changed."""
        return False

    def finished(self, result: CommandResult) -> None:
        """A turn's result arrived."""
        return None  # nothing by default

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """``engine``, ``model``, ``models``, ``system_prompt``, ``tools``, ``usage``..."""

    @abstractmethod
    def supported(self) -> dict[str, bool]:
        """Which of :data:`CONTROLS` work (the page disables the others)."""

    def unsupported(self, control: str) -> str:
        """Why ``control`` does not work, for the page."""
        return f"{control} is not supported by {self.describe().get('engine')}."

    def model_warning(self) -> str | None:
        """A warning when the model has no API key (None when it has one, or is not here)."""
        return None

    def usage(self) -> dict[str, Any] | None:
        """Tokens and cost as ``CommandResult.metadata`` has them (``session_usage``...)."""
        return None

    def _refuse(self, control: str) -> None:
        if not self.supported().get(control, False):
            raise UnsupportedControlError(self.unsupported(control))

    async def clear(self) -> None:
        """Forget the conversation (the system prompt stays)."""
        self._refuse("clear")

    async def new_conversation(self) -> str | None:
        """Start a new conversation (a stored one stays stored); the new one's id."""
        self._refuse("new")
        return None

    async def set_model(self, name: str) -> str:
        """Switch the model; the new model's ``provider:model``."""
        self._refuse("model")
        return name

    async def set_system_prompt(self, prompt: str | None) -> None:
        """Set the system prompt (None removes it)."""
        self._refuse("system")


class LocalEngine(EngineDriver):
    """The tab's own engine, in this process.

    Args:
        engine: The engine (made for the tab's session id and the server's bus).
    """

    _NEEDS = {
        "clear": "clear_context",
        "new": "new_conversation",
        "model": "set_model",
        "system": "set_system_prompt",
        "cost": "usage",
    }

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.command_type = engine.command_type

    @property
    def engine(self) -> Engine:
        """The engine."""
        return self._engine

    @property
    def conversation_id(self) -> str | None:
        """The engine's stored conversation (``ToolChatEngine.conversation_id``)."""
        value = getattr(self._engine, "conversation_id", None)
        return value if isinstance(value, str) else None

    def history(self) -> list[dict[str, Any]]:
        """The messages in the engine's context, when it keeps a stored conversation."""
        if self.conversation_id is None:
            return []
        messages = getattr(getattr(self._engine, "context", None), "chat_history", None)
        return [dict(message) for message in messages or [] if isinstance(message, dict)]

    def open(self, session: BusSession) -> None:
        """Register the engine as its command's handler in the tab's session."""
        session.register_command_handler(self.command_type, self._engine.handle_announced)

    async def close(self) -> None:
        """Stop the MCP servers the engine started."""
        close = getattr(self._engine, "close", None)
        if close is not None:
            await _maybe_await(close())

    def command(self, prompt: str, session_id: str) -> EngineCommand:
        """The engine's command for one prompt."""
        return self._engine.command_type(prompt=prompt, session_id=session_id)

    def describe(self) -> dict[str, Any]:
        """What the engine says of itself (its model, system prompt, tools, usage)."""
        engine = self._engine
        model = getattr(engine, "model", None)
        strategy = getattr(getattr(engine, "strategy", None), "name", None)
        members = [
            {"label": str(member.label), "model": str(member.model_string)}
            for member in getattr(engine, "members", None) or []
        ]
        return {
            "engine": type(engine).__name__,
            "model": str(getattr(model, "model_string", None) or model) if model else None,
            "models": engine.model_strings(),
            "system_prompt": getattr(engine, "system_prompt", None),
            "tools": [str(name) for name in getattr(engine, "tool_names", None) or []],
            "usage": self.usage(),
            "consortium": {"strategy": strategy, "members": members} if members else None,
            "conversation_id": self.conversation_id,
        }

    def supported(self) -> dict[str, bool]:
        """The controls whose method the engine has (as the slash commands do)."""
        return {name: hasattr(self._engine, attribute) for name, attribute in self._NEEDS.items()}

    def model_warning(self) -> str | None:
        """Warn when the engine's model has no API key."""
        return missing_key_warning(getattr(self._engine, "model", None))

    def usage(self) -> dict[str, Any] | None:
        """The engine's totals."""
        usage = getattr(self._engine, "usage", None)
        return usage.metadata() if isinstance(usage, UsageTotals) else None

    async def clear(self) -> None:
        """Forget the engine's conversation."""
        self._refuse("clear")
        await _maybe_await(self._engine.clear_context())  # type: ignore[attr-defined]

    async def new_conversation(self) -> str | None:
        """Start the engine's new conversation; its id (None when nothing is stored)."""
        self._refuse("new")
        value = await _maybe_await(self._engine.new_conversation())  # type: ignore[attr-defined]
        return value if isinstance(value, str) else None

    async def set_model(self, name: str) -> str:
        """Switch the engine's model."""
        self._refuse("model")
        await _maybe_await(self._engine.set_model(name))  # type: ignore[attr-defined]
        return str(self._engine.model.model_string)  # type: ignore[attr-defined]

    async def set_system_prompt(self, prompt: str | None) -> None:
        """Set the engine's system prompt."""
        self._refuse("system")
        await _maybe_await(self._engine.set_system_prompt(prompt))  # type: ignore[attr-defined]


class RemoteEngine(EngineDriver):
    """An engine on Redis workers: the tab's prompts are sent as ``command_type``.

    Args:
        command_type: The command the workers serve (``ToolChatEngineCommand``...).
        where: Where the workers are, as the page may show it (a masked Redis URL).
    """

    def __init__(self, command_type: type[EngineCommand], where: str = "Redis") -> None:
        self.command_type = command_type
        self.where = where
        self.engine_name = command_type.__name__.removesuffix("Command") or "engine"
        self.models: list[str] = []
        self.tools: list[str] = []
        self.system_prompt: str | None = None
        self._usage: dict[str, Any] | None = None

    @property
    def remote(self) -> bool:
        """Always True."""
        return True

    def observe(self, event: Event) -> bool:
        """Take the worker's model, tools and system prompt from its run's header."""
        if not isinstance(event, RunStartedEvent):
            return False
        self.engine_name = event.engine.rpartition(":")[2] or self.engine_name
        self.models = [str(model) for model in event.models]
        self.tools = [str(tool.get("name", "?")) for tool in event.tools]
        prompt = event.settings.get("system_prompt")
        self.system_prompt = prompt if isinstance(prompt, str) else None
        return True

    def finished(self, result: CommandResult) -> None:
        """Keep the usage the worker reported (its engine's totals for this session)."""
        usage = {key: result.metadata[key] for key in _USAGE_KEYS if key in result.metadata}
        if usage:
            self._usage = usage
        model = result.metadata.get("model")
        if isinstance(model, str) and model and not self.models:
            self.models = [model]

    def describe(self) -> dict[str, Any]:
        """What the workers said so far (nothing of the model before the first turn)."""
        return {
            "engine": self.engine_name,
            "model": self.models[0] if self.models else None,
            "models": list(self.models),
            "system_prompt": self.system_prompt,
            "tools": list(self.tools),
            "usage": self._usage,
            "consortium": None,
            "remote": self.where,
        }

    def supported(self) -> dict[str, bool]:
        """Only cost: the rest would change an engine that is not here."""
        return {"clear": False, "new": False, "model": False, "system": False, "cost": True}

    def unsupported(self, control: str) -> str:
        """Why: the workers own the engine."""
        if control in ("clear", "new"):
            return (
                f"{'Clear' if control == 'clear' else 'New conversation'} is off with "
                "--redis: a worker keeps this conversation; "
                "open a new tab for a new one."
            )
        setting = {"model": "model", "system": "system prompt"}.get(control, control)
        flag = {"model": "--model", "system": "--system"}.get(control, "")
        return f"The workers choose the {setting} with --redis" + (
            f" (`llmgine worker {flag} ...`)." if flag else "."
        )

    def usage(self) -> dict[str, Any] | None:
        """The usage of the last result."""
        return self._usage


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
