"""The events of a turn that a front end shows: what crosses processes for a remote UI.

The web page renders them (streamed text and thinking, tool panels,
statuses, consortium cards) and builds its trace view from them (commands,
model calls, tool calls). A worker on Redis shares them, so that a front end
on another node (``llmgine web --redis``) sees the turns it runs.
"""

from __future__ import annotations

from llmgine.engines.consortium.events import (
    ConsortiumCombineEvent,
    ConsortiumIterationEvent,
    ConsortiumMemberEvent,
)
from llmgine.engines.messages import (
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
    RunStartedEvent,
)
from llmgine.messages.events import (
    CommandResultEvent,
    CommandStartedEvent,
    Event,
    EventHandlerFailedEvent,
)
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.tools.events import ToolCallStartedEvent, ToolExecuteResultEvent

__all__ = ["UI_EVENTS"]

#: The events a front end shows (subclasses included).
UI_EVENTS: tuple[type[Event], ...] = (
    RunStartedEvent,
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
    ToolCallStartedEvent,
    ToolExecuteResultEvent,
    LLMCallEvent,
    LLMResponseEvent,
    CommandStartedEvent,
    CommandResultEvent,
    ConsortiumMemberEvent,
    ConsortiumIterationEvent,
    ConsortiumCombineEvent,
    EventHandlerFailedEvent,
)
