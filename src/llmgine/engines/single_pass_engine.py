"""The single-pass engine: one prompt, one model call, one answer.

Run it interactively with ``python -m llmgine.engines.single_pass_engine``.
"""

from __future__ import annotations

from typing import Any

from llmgine.bus.interface import Bus
from llmgine.engines.base import Engine
from llmgine.engines.messages import EngineCommand, EngineStatusEvent
from llmgine.errors import EngineError, LLMgineError
from llmgine.messages.commands import CommandResult
from llmgine.models.interface import Model
from llmgine.models.registry import get_model

__all__ = [
    "SinglePassEngine",
    "SinglePassEngineCommand",
    "SinglePassEngineStatusEvent",
    "use_single_pass_engine",
]


class SinglePassEngineCommand(EngineCommand):
    """Ask the single-pass engine to answer ``prompt``."""


class SinglePassEngineStatusEvent(EngineStatusEvent, kw_only=True):
    """Status of the single-pass engine."""


class SinglePassEngine(Engine):
    """Answers each prompt with one model call: the system prompt, then the prompt.

    It keeps no conversation: every command stands alone (a translator, a
    classifier, a formatter...).

    Args:
        model: A model or ``"provider:model"`` string (default: see
            :func:`~llmgine.engines.defaults.default_model`).
        system_prompt: Instructions sent before every prompt.
        session_id: The session of its handler and events.
        stream: Stream the answer (text deltas are published as events).
        engine_id: Its id.
        bus: Where it publishes (default: the message bus singleton).
    """

    command_type = SinglePassEngineCommand
    status_event_type = SinglePassEngineStatusEvent

    def __init__(
        self,
        model: Model | str | None = None,
        system_prompt: str | None = None,
        session_id: str | None = None,
        *,
        stream: bool = False,
        engine_id: str | None = None,
        bus: Bus | None = None,
    ) -> None:
        super().__init__(session_id=session_id, engine_id=engine_id, bus=bus)
        self.model = self.resolve_model(model)
        self.system_prompt = system_prompt
        self.stream = stream

    def settings(self) -> dict[str, Any]:
        """The system prompt and whether it streams."""
        return {"system_prompt": self.system_prompt, "stream": self.stream}

    def set_model(self, model: Model | str) -> None:
        """Use another model from now on."""
        self.model = get_model(model)

    def set_system_prompt(self, prompt: str | None) -> None:
        """Replace the system prompt."""
        self.system_prompt = prompt or None

    def clear_context(self) -> None:
        """Nothing to clear: the engine keeps no conversation."""

    async def handle_command(self, command: EngineCommand) -> CommandResult:
        """Answer ``command.prompt`` with one model call."""
        self.usage.start_turn()
        messages: list[dict[str, Any]] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": command.prompt})
        try:
            await self.publish_status(f"calling {self.model.model_string}")
            response = await self.generate(self.model, messages, self.stream)
        except LLMgineError as exc:
            await self.finish()
            return CommandResult(
                success=False,
                error=str(exc),
                session_id=command.session_id,
                metadata={**self.usage.metadata(), "error_type": type(exc).__name__},
            )
        await self.finish()
        return CommandResult(
            success=True,
            result=response.content or "",
            session_id=command.session_id,
            metadata={**self.usage.metadata(), "model": self.model.model_string},
        )


async def use_single_pass_engine(
    prompt: str,
    model: Model | str | None = None,
    system_prompt: str | None = None,
    **settings: Any,
) -> str:
    """Answer ``prompt`` once and return the text (no bus set-up needed).

    Raises:
        EngineError: the engine could not answer (its message says why).
    """
    try:
        engine = SinglePassEngine(model, system_prompt, **settings)
    except LLMgineError as exc:  # a bad model name, an unusable tool...
        raise EngineError(str(exc)) from exc
    return await engine.answer(prompt)


if __name__ == "__main__":
    from llmgine.cli.launcher import main

    main(SinglePassEngine, "Single-pass engine: one model call per prompt.")
