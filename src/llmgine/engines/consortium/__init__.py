"""The consortium engine: several models answer, then their answers are combined."""

from llmgine.engines.consortium.engine import ConsortiumEngine, use_consortium_engine
from llmgine.engines.consortium.events import (
    ConsortiumCombineEvent,
    ConsortiumEngineCommand,
    ConsortiumEngineStatusEvent,
    ConsortiumIterationEvent,
    ConsortiumMemberEvent,
)

__all__ = [
    "ConsortiumCombineEvent",
    "ConsortiumEngine",
    "ConsortiumEngineCommand",
    "ConsortiumEngineStatusEvent",
    "ConsortiumIterationEvent",
    "ConsortiumMemberEvent",
    "use_consortium_engine",
]
