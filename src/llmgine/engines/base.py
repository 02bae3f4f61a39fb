"""The engine extension point: an object that handles one command type on the bus."""

from __future__ import annotations

import inspect
import platform
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from llmgine._version import __version__
from llmgine.bus.bus import MessageBus
from llmgine.bus.interface import Bus
from llmgine.engines.defaults import default_model
from llmgine.engines.messages import (
    FINISHED,
    EngineCommand,
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
    RunStartedEvent,
)
from llmgine.errors import EngineError
from llmgine.messages.commands import CommandResult
from llmgine.messages.trace import current_message, new_id
from llmgine.models.instrumented import InstrumentedModel, instrument
from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.models.response import LLMResponse, TextDelta, ThinkingDelta, Usage

__all__ = ["ENGINES", "Engine", "UsageTotals"]

#: Every engine class by ``"module:Class"``, filled as classes are defined.
ENGINES: dict[str, type[Engine]] = {}


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Known by name, so a run can be rebuilt from its log without importing
        # anything the log names (llmgine replay).
        ENGINES[f"{cls.__module__}:{cls.__qualname__}"] = cls

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
        self._announced = False

    @abstractmethod
    async def handle_command(self, command: EngineCommand) -> CommandResult:
        """Handle one command and return its result (never raise for expected failures)."""

    async def execute(self, prompt: str, **fields: Any) -> CommandResult:
        """Handle ``prompt`` directly, without a handler registered on the bus.

        The turn is traced as a command on the bus would be: the command is
        the root of everything the turn causes (its model calls, tool calls,
        statuses), all in the engine's session.
        """
        await self.announce()
        command = self.command_type(prompt, session_id=self.session_id, **fields)
        return await self.bus.run_handler(command, self.handle_command)

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
        """Register the engine as the handler of :attr:`command_type` in its session."""
        (bus or self.bus).register_command_handler(
            self.command_type, self.handle_announced, session_id=self.session_id
        )

    async def handle_announced(self, command: EngineCommand) -> CommandResult:
        """:meth:`handle_command`, after :meth:`announce` (what :meth:`register` registers)."""
        await self.announce()
        return await self.handle_command(command)

    # -- what the log needs to rebuild the run ---------------------------------------

    def settings(self) -> dict[str, Any]:
        """The settings the engine was made with, as JSON (override to add yours).

        ``llmgine replay`` rebuilds the engine from them with :meth:`rebuild`.
        """
        return {}

    def model_strings(self) -> list[str]:
        """Every model the engine calls, as ``"provider:model"`` strings."""
        model = getattr(self, "model", None)
        return [model.model_string] if isinstance(model, Model) else []

    def tool_schemas(self) -> list[dict[str, Any]]:
        """The schemas of the tools it offers (none by default)."""
        return []

    def random_seed(self) -> int | None:
        """The seed of its random choices, if it makes any."""
        return None

    @classmethod
    def rebuild(
        cls,
        settings: dict[str, Any],
        *,
        model_for: Callable[[str], Model],
        models: Sequence[str],
        tools: Sequence[Any] = (),
        session_id: str | None = None,
    ) -> Engine:
        """The engine again, from its :meth:`settings`, with the models ``model_for`` gives.

        The default passes the settings as keyword arguments, the first model
        as ``model=`` and the tools as ``tools=`` where the constructor takes them.
        """
        accepted = inspect.signature(cls).parameters
        kwargs = {key: value for key, value in settings.items() if key in accepted}
        if "model" in accepted and models:
            kwargs["model"] = model_for(models[0])
        if "tools" in accepted:
            kwargs["tools"] = list(tools)
        if "session_id" in accepted:
            kwargs["session_id"] = session_id
        return cls(**kwargs)

    async def announce(self) -> None:
        """Publish the :class:`RunStartedEvent` of this engine, once, before its first turn."""
        if self._announced:
            return
        self._announced = True
        if not self.bus.has_handlers(RunStartedEvent, self.session_id):
            return
        # A run's header is the root of its own tree, even when announced inside a turn.
        token = current_message.set(None)
        try:
            await self.bus.publish(
                RunStartedEvent(
                    engine=f"{type(self).__module__}:{type(self).__qualname__}",
                    engine_id=self.engine_id,
                    settings=self.settings(),
                    models=self.model_strings(),
                    tools=self.tool_schemas(),
                    seed=self.random_seed(),
                    llmgine_version=__version__,
                    python=platform.python_version(),
                    session_id=self.session_id,
                )
            )
        finally:
            current_message.reset(token)

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
