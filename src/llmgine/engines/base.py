"""The engine extension point: an object that handles one command type on the bus."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from llmgine.bus.bus import MessageBus
from llmgine.bus.interface import Bus
from llmgine.engines.defaults import default_model
from llmgine.engines.messages import (
    FINISHED,
    EngineCommand,
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
)
from llmgine.errors import EngineError
from llmgine.messages.commands import CommandResult
from llmgine.messages.trace import new_id
from llmgine.models.instrumented import InstrumentedModel, instrument
from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.models.response import LLMResponse, TextDelta, ThinkingDelta, Usage

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
        bus: Where it publishes (default: the :class:`~llmgine.bus.MessageBus`
            singleton); a :class:`~llmgine.testing.FakeMessageBus` in a test.

    Attributes:
        command_type: The command the engine handles.
        status_event_type: The status event it publishes.
    """

    command_type: ClassVar[type[EngineCommand]] = EngineCommand
    status_event_type: ClassVar[type[EngineStatusEvent]] = EngineStatusEvent

    def __init__(
        self,
        session_id: str | None = None,
        engine_id: str | None = None,
        *,
        bus: Bus | None = None,
    ) -> None:
        self.engine_id = engine_id or new_id()
        self.session_id = session_id or "ROOT"
        self.bus: Bus = bus if bus is not None else MessageBus()
        self.usage = UsageTotals()
        #: Where status goes instead of the bus, when set (an engine inside another).
        self.on_status: Callable[[str], Awaitable[None]] | None = None
        self._instrumented: dict[int, tuple[Model, InstrumentedModel]] = {}

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

    def register(self, bus: Bus | None = None) -> None:
        """Register :meth:`handle_command` for :attr:`command_type` in the engine's session."""
        (bus or self.bus).register_command_handler(
            self.command_type, self.handle_command, session_id=self.session_id
        )

    async def publish_status(self, status: str) -> None:
        """Publish the engine's status event (``"finished"`` ends a turn).

        With :attr:`on_status` set, the status goes to that callback instead.
        """
        if self.on_status is not None:
            await self.on_status(status)
        elif self.bus.has_handlers(self.status_event_type, self.session_id):
            await self.bus.publish(
                self.status_event_type(
                    status=status, engine_id=self.engine_id, session_id=self.session_id
                )
            )

    async def finish(self) -> None:
        """Publish the :data:`~llmgine.engines.messages.FINISHED` status."""
        await self.publish_status(FINISHED)

    def instrumented(self, model: Model) -> InstrumentedModel:
        """``model`` with retries, pricing and its LLM events on this engine's bus."""
        cached = self._instrumented.get(id(model))
        if cached is not None and cached[0] is model:
            return cached[1]
        wrapped = instrument(model, self.bus)
        if len(self._instrumented) > 64:  # models switched many times: start afresh
            self._instrumented.clear()
        self._instrumented[id(model)] = (model, wrapped)
        return wrapped

    async def generate(
        self,
        model: Model,
        messages: Sequence[dict[str, Any]],
        stream: bool = False,
        **kwargs: Any,
    ) -> LLMResponse:
        """Call ``model`` for this engine and count its usage in the turn and the session.

        The call goes through :meth:`instrumented` (retries, pricing, LLM
        events). When streaming, each piece of text is published as an
        :class:`EngineTextDeltaEvent` and each piece of thinking as an
        :class:`EngineThinkingDeltaEvent`; without streaming, the answer's
        thinking is published as one thinking event.

        Args:
            model: The model to call.
            messages: The conversation (OpenAI chat format).
            stream: Stream the answer (its pieces become events).
            **kwargs: ``tools=``, ``temperature=``... as ``Model.generate`` takes them.

        Raises:
            ProviderError: the call failed after its retries.
        """
        caller = self.instrumented(model)
        response: LLMResponse | None = None
        if not stream:
            response = await caller.generate(messages, **kwargs)
            if response.thinking:
                await self._publish_delta(EngineThinkingDeltaEvent, response.thinking)
        else:
            async for chunk in caller.stream(messages, **kwargs):
                if isinstance(chunk, TextDelta):
                    await self._publish_delta(EngineTextDeltaEvent, chunk.text)
                elif isinstance(chunk, ThinkingDelta):
                    await self._publish_delta(EngineThinkingDeltaEvent, chunk.text)
                elif isinstance(chunk, LLMResponse):
                    response = chunk
            assert response is not None  # a stream always ends with the response
        self.usage.add(response)
        return response

    async def _publish_delta(
        self, event_type: type[EngineTextDeltaEvent] | type[EngineThinkingDeltaEvent], text: str
    ) -> None:
        if text and self.bus.has_handlers(event_type, self.session_id):
            await self.bus.publish(
                event_type(text=text, engine_id=self.engine_id, session_id=self.session_id)
            )

    @staticmethod
    def resolve_model(model: Model | str | None) -> Model:
        """A model object from a model, a ``"provider:model"`` string, or None (the default)."""
        if model is None:
            return default_model()[0]
        return get_model(model)
