"""The engine extension point: an object that handles one command type on the bus."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from llmgine.bus.bus import MessageBus
from llmgine.engines.messages import (
    FINISHED,
    EngineCommand,
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
)
from llmgine.errors import EngineError
from llmgine.llm.models.interface import Model
from llmgine.llm.models.registry import get_model
from llmgine.llm.response import LLMResponse, TextDelta, ThinkingDelta, Usage
from llmgine.messages.commands import CommandResult
from llmgine.messages.trace import new_id

__all__ = ["Engine", "UsageTotals"]


class UsageTotals:
    """Token usage and cost of a turn and of the whole session."""

    def __init__(self) -> None:
        self.session = Usage()
        self.session_cost_usd: float | None = None
        self.turn = Usage()
        self.turn_cost_usd: float | None = None

    def start_turn(self) -> None:
        """Reset the turn's counters."""
        self.turn = Usage()
        self.turn_cost_usd = None

    def add(self, response: LLMResponse) -> None:
        """Count one model response in the turn and the session."""
        self.turn = self.turn + response.usage
        self.session = self.session + response.usage
        if response.cost_usd is not None:
            self.turn_cost_usd = (self.turn_cost_usd or 0.0) + response.cost_usd
            self.session_cost_usd = (self.session_cost_usd or 0.0) + response.cost_usd

    def metadata(self) -> dict[str, Any]:
        """The totals as ``CommandResult.metadata`` entries."""
        return {
            "usage": vars(self.turn).copy(),
            "cost_usd": self.turn_cost_usd,
            "session_usage": vars(self.session).copy(),
            "session_cost_usd": self.session_cost_usd,
        }


class Engine(ABC):
    """Handles a command type on the bus: subclass it and implement :meth:`handle_command`.

    An engine is used three ways: registered as the command's handler (see
    :meth:`register`), called directly with :meth:`execute`, or driven by the
    interactive CLI. Engines talk to UIs only through events: status
    (:meth:`publish_status`), streamed text, tool results.

    Args:
        session_id: The session the engine's handlers and events belong to.
        engine_id: Its id (a new one when omitted).

    Attributes:
        command_type: The command the engine handles.
        status_event_type: The status event it publishes.
    """

    command_type: ClassVar[type[EngineCommand]] = EngineCommand
    status_event_type: ClassVar[type[EngineStatusEvent]] = EngineStatusEvent

    def __init__(self, session_id: str | None = None, engine_id: str | None = None) -> None:
        self.engine_id = engine_id or new_id()
        self.session_id = session_id or "ROOT"
        self.bus = MessageBus()
        self.usage = UsageTotals()

    @abstractmethod
    async def handle_command(self, command: EngineCommand) -> CommandResult:
        """Handle one command and return its result (never raise for expected failures)."""

    async def execute(self, prompt: str, **fields: Any) -> CommandResult:
        """Handle ``prompt`` directly, without going through the bus."""
        command = self.command_type(prompt, session_id=self.session_id, **fields)
        return await self.handle_command(command)

    async def answer(self, prompt: str) -> str:
        """Handle ``prompt`` and return the answer text (what the engine functions do).

        Raises:
            EngineError: the engine could not answer (with its error message).
        """
        result = await self.execute(prompt)
        if not result.success:
            raise EngineError(result.error or f"{type(self).__name__} could not answer")
        return str(result.result)

    def register(self, bus: MessageBus | None = None) -> None:
        """Register :meth:`handle_command` for :attr:`command_type` in the engine's session."""
        (bus or self.bus).register_command_handler(
            self.command_type, self.handle_command, session_id=self.session_id
        )

    async def publish_status(self, status: str) -> None:
        """Publish the engine's status event (``"finished"`` ends a turn)."""
        await self.bus.publish(
            self.status_event_type(
                status=status, engine_id=self.engine_id, session_id=self.session_id
            )
        )

    async def finish(self) -> None:
        """Publish the :data:`~llmgine.engines.messages.FINISHED` status."""
        await self.publish_status(FINISHED)

    async def _generate(
        self, model: Model, messages: Sequence[dict[str, Any]], stream: bool, **kwargs: Any
    ) -> LLMResponse:
        """Call ``model``; publish thinking (and, when streaming, text) deltas as they arrive.

        Without streaming, the answer's thinking is published as one
        :class:`EngineThinkingDeltaEvent` before the call returns.
        """
        if not stream:
            response = await model.generate(list(messages), **kwargs)
            if response.thinking:
                await self.bus.publish(
                    EngineThinkingDeltaEvent(
                        text=response.thinking,
                        engine_id=self.engine_id,
                        session_id=self.session_id,
                    )
                )
        else:
            response = None
            async for chunk in model.stream(list(messages), **kwargs):
                if isinstance(chunk, TextDelta) and chunk.text:
                    await self.bus.publish(
                        EngineTextDeltaEvent(
                            text=chunk.text, engine_id=self.engine_id, session_id=self.session_id
                        )
                    )
                elif isinstance(chunk, ThinkingDelta) and chunk.text:
                    await self.bus.publish(
                        EngineThinkingDeltaEvent(
                            text=chunk.text, engine_id=self.engine_id, session_id=self.session_id
                        )
                    )
                elif isinstance(chunk, LLMResponse):
                    response = chunk
            assert response is not None  # Model.stream always ends with the response
        self.usage.add(response)
        return response

    @staticmethod
    def resolve_model(model: Model | str | None) -> Model:
        """A model object from a model, a ``"provider:model"`` string, or None (the default)."""
        if model is None:
            from llmgine.engines.defaults import default_model

            return default_model()[0]
        return get_model(model)
