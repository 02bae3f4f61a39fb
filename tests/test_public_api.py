"""The public API: every name in ``__all__`` exists, and the seed's import paths work."""

import importlib

import pytest

import llmgine
import llmgine.ui.cli

PUBLIC_MODULES = [
    "llmgine",
    "llmgine.bus",
    "llmgine.messages",
    "llmgine.observability",
    "llmgine.observability.handlers",
    "llmgine.errors",
    "llmgine.bootstrap",
    "llmgine.testing",
    "llmgine.llm.models",
    "llmgine.llm.providers",
    "llmgine.llm.tools",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__, f"{module_name} has an empty __all__"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


def test_public_classes_are_exported_from_the_top_level() -> None:
    expected = {
        "MessageBus",
        "BusSession",
        "Command",
        "CommandResult",
        "Event",
        "ScheduledEvent",
        "CommandStartedEvent",
        "CommandResultEvent",
        "EventHandlerFailedEvent",
        "SessionStartEvent",
        "SessionEndEvent",
        "ApplicationBootstrap",
        "ApplicationConfig",
        "ObservabilityEventHandler",
        "FileEventHandler",
        "ConsoleEventHandler",
        "LLMgineError",
    }
    assert expected <= set(llmgine.__all__)


def test_seed_import_paths_still_work() -> None:
    from llmgine.bootstrap import ApplicationBootstrap, ApplicationConfig
    from llmgine.bus.bus import MessageBus
    from llmgine.bus.session import BusSession, SessionEndEvent, SessionStartEvent
    from llmgine.messages.commands import Command, CommandResult
    from llmgine.messages.events import (
        CommandResultEvent,
        CommandStartedEvent,
        Event,
        EventHandlerFailedEvent,
        ScheduledEvent,
    )
    from llmgine.observability.handlers import (
        ConsoleEventHandler,
        FileEventHandler,
        ObservabilityEventHandler,
    )

    assert MessageBus is llmgine.MessageBus
    assert BusSession is llmgine.BusSession
    assert SessionStartEvent is llmgine.SessionStartEvent
    assert SessionEndEvent is llmgine.SessionEndEvent
    for cls in (
        Command,
        CommandResult,
        Event,
        ScheduledEvent,
        CommandResultEvent,
        CommandStartedEvent,
        EventHandlerFailedEvent,
        ConsoleEventHandler,
        FileEventHandler,
        ObservabilityEventHandler,
    ):
        assert getattr(llmgine, cls.__name__) is cls
    assert ApplicationBootstrap is llmgine.ApplicationBootstrap
    assert ApplicationConfig is llmgine.ApplicationConfig


def test_importing_llmgine_stays_light() -> None:
    import subprocess
    import sys

    heavy = ["pydantic", "openai", "anthropic", "instructor", "dotenv"]
    code = f"import sys, llmgine; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_get_model_is_exported() -> None:
    from llmgine.llm.models import get_model

    assert llmgine.get_model is get_model


def test_tool_decorator_is_exported_in_both_places() -> None:
    import llmgine.llm.tools

    assert llmgine.tool is llmgine.llm.tools.tool
    assert callable(llmgine.tool)


def test_seed_import_paths_of_the_llm_layer() -> None:
    from llmgine.engines import Engine, ToolChatEngine
    from llmgine.llm.context import ChatHistoryUpdatedEvent
    from llmgine.llm.context.context_events import ChatHistoryUpdatedEvent as SeedUpdated
    from llmgine.llm.context.memory import SimpleChatHistory  # noqa: F401
    from llmgine.llm.engine.engine import Engine as SeedEngine
    from llmgine.llm.events import LLMCallEvent
    from llmgine.llm.models import Claude35Haiku, Gpt41Mini
    from llmgine.llm.models.anthropic_models import Claude35Haiku as SeedClaude
    from llmgine.llm.models.openai_models import Gpt41Mini as SeedGpt
    from llmgine.llm.providers import Providers
    from llmgine.llm.providers.events import LLMCallEvent as SeedCall
    from llmgine.llm.providers.providers import Providers as SeedProviders
    from llmgine.llm.tools import ToolManager, ToolRegisterEvent
    from llmgine.llm.tools.tool_events import ToolRegisterEvent as SeedRegister
    from llmgine.llm.tools.tool_manager import ToolManager as SeedManager
    from llmgine.ui.cli.cli import EngineCLI
    from llmgine.ui.cli.components import EngineResultComponent, ToolComponent  # noqa: F401

    assert SeedEngine is Engine and SeedUpdated is ChatHistoryUpdatedEvent
    assert SeedClaude is Claude35Haiku and SeedGpt is Gpt41Mini
    assert SeedCall is LLMCallEvent and SeedProviders is Providers
    assert SeedRegister is ToolRegisterEvent and SeedManager is ToolManager
    assert issubclass(ToolChatEngine, Engine) and EngineCLI is llmgine.ui.cli.EngineCLI
