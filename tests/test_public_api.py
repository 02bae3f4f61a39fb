"""The public API: every name in ``__all__`` exists, and the seed's import paths work."""

import importlib
import re
import subprocess
import sys

import pytest

import llmgine

PUBLIC_MODULES = [
    "llmgine",
    "llmgine.bus",
    "llmgine.messages",
    "llmgine.observability",
    "llmgine.errors",
    "llmgine.bootstrap",
    "llmgine.testing",
    "llmgine.models",
    "llmgine.providers",
    "llmgine.tools",
    "llmgine.context",
    "llmgine.memory",
    "llmgine.engines",
    "llmgine.cli",
    "llmgine.distributed",
    "llmgine.web",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__, f"{module_name} has an empty __all__"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_exported(module_name: str) -> None:
    """What a package re-exports, or a module defines, without an underscore is in ``__all__``."""
    module = importlib.import_module(module_name)
    is_package = hasattr(module, "__path__")

    def offered_by_it(value: object) -> bool:
        origin = getattr(value, "__module__", None)
        if not isinstance(origin, str):
            return is_package  # constants a package chose to re-export
        return origin.startswith("llmgine") if is_package else origin == module_name

    offered = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, type(sys))  # submodules
        and name != "annotations"  # from __future__
        and offered_by_it(value)
    }
    assert sorted(offered - set(module.__all__)) == []


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_name_can_be_imported_by_name(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        namespace: dict[str, object] = {}
        exec(f"from {module_name} import {name}", namespace)  # noqa: S102 - the import statement itself
        assert namespace[name] is getattr(module, name)


def test_the_top_level_names_are_the_defining_modules_objects() -> None:
    from llmgine import models, tools

    assert llmgine.get_model is models.get_model and llmgine.tool is tools.tool
    assert llmgine.InstrumentedModel is models.InstrumentedModel
    assert llmgine.ToolManager is tools.ToolManager


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


def test_module_paths_of_the_core_are_the_seeds() -> None:
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
    ):
        assert getattr(llmgine, cls.__name__) is cls
    assert ApplicationBootstrap is llmgine.ApplicationBootstrap
    assert ApplicationConfig is llmgine.ApplicationConfig


SEED_PATHS = [
    ("llmgine.observability.handlers", "FileEventHandler", "llmgine.observability"),
    ("llmgine.bus.fakes", "FakeMessageBus", "llmgine.testing.fakes"),
    ("llmgine.llm.engine.engine", "Engine", "llmgine.engines.base"),
    ("llmgine.llm.tools.tool_manager", "ToolManager", "llmgine.tools.manager"),
    ("llmgine.llm.tools.tool_events", "ToolRegisterEvent", "llmgine.tools.events"),
    ("llmgine.llm.tools", "ToolManager", "llmgine.tools"),
    ("llmgine.llm.context.memory", "SimpleChatHistory", "llmgine.context.memory"),
    ("llmgine.llm.models.openai_models", "Gpt41Mini", "llmgine.models.presets"),
    ("llmgine.llm.providers.providers", "Providers", "llmgine.providers.catalog"),
    ("llmgine.llm.response", "LLMResponse", "llmgine.models.response"),
    ("llmgine.testing.models", "TestModel", "llmgine.testing"),
    ("llmgine.ui.cli.cli", "EngineCLI", "llmgine.cli.cli"),
    ("llmgine.ui.cli.components", "ToolComponent", "llmgine.cli.components"),
    ("llmgine.engines.launcher", "main", "llmgine.cli.launcher"),
]


@pytest.mark.parametrize(("old", "name", "new"), SEED_PATHS)
def test_seed_import_paths_work_and_warn(old: str, name: str, new: str) -> None:
    for module in [m for m in sys.modules if m == old or m.startswith(old + ".")]:
        del sys.modules[module]  # as in a fresh process: the first import warns
    with pytest.warns(DeprecationWarning) as warned:  # also for old parent packages
        module = importlib.import_module(old)
    messages = [str(warning.message) for warning in warned]
    assert any(re.match(rf"{re.escape(old)} is deprecated: import from ", m) for m in messages)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    assert module is importlib.import_module(new)  # the same module, never a copy


def test_the_seed_paths_warn_where_they_are_imported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "old_app.py"
    script.write_text("import llmgine\nfrom llmgine.llm.tools.tool_manager import ToolManager\n")
    proc = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{script}:2: DeprecationWarning: llmgine.llm.tools.tool_manager is deprecated" in (
        proc.stderr
    )


def test_importing_llmgine_stays_light() -> None:
    heavy = ["pydantic", "openai", "anthropic", "instructor", "dotenv", "redis"]
    code = f"import sys, llmgine; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_get_model_is_exported() -> None:
    from llmgine.models import get_model

    assert llmgine.get_model is get_model


def test_tool_decorator_is_exported_in_both_places() -> None:
    import llmgine.tools

    assert llmgine.tool is llmgine.tools.tool
    assert callable(llmgine.tool)
