import json
import logging
from pathlib import Path

import pytest

from llmgine import (
    ApplicationBootstrap,
    ApplicationConfig,
    Command,
    CommandResult,
    ConsoleEventHandler,
    Event,
    FileEventHandler,
    MessageBus,
)
from llmgine.errors import ConfigurationError
from llmgine.observability import LogLevel


class BootPing(Command):
    text: str = ""


class BootPinged(Event):
    text: str = ""


def _config(tmp_path: Path, **overrides: object) -> ApplicationConfig:
    values: dict[str, object] = {
        "file_handler_log_dir": str(tmp_path / "logs"),
        "data_dir": tmp_path / "data",
        "enable_console_handler": False,
    }
    values.update(overrides)
    return ApplicationConfig(**values)  # type: ignore[arg-type]


async def test_bootstrap_starts_bus_and_registers_handlers(
    fresh_bus: MessageBus, tmp_path: Path
) -> None:
    app = ApplicationBootstrap(_config(tmp_path, enable_console_handler=True))
    await app.bootstrap()
    assert fresh_bus.is_running
    kinds = {type(h) for h in fresh_bus.observability_handlers}
    assert kinds == {ConsoleEventHandler, FileEventHandler}

    app.register_command_handler(BootPing, lambda c: CommandResult(success=True, result=c.text))
    seen: list[str] = []
    app.register_event_handler(BootPinged, lambda e: seen.append(e.text))
    result = await fresh_bus.execute(BootPing("hi"))
    await fresh_bus.publish(BootPinged(text="there"))
    assert result.result == "hi"
    assert seen == ["there"]

    await app.shutdown()
    assert not fresh_bus.is_running
    assert fresh_bus.observability_handlers == []
    (log_file,) = (tmp_path / "logs").glob("*.jsonl")
    types = [json.loads(line)["event_type"] for line in log_file.read_text().splitlines()]
    assert "CommandStartedEvent" in types and "BootPinged" in types


async def test_bootstrap_twice_does_not_double_register(
    fresh_bus: MessageBus, tmp_path: Path
) -> None:
    for _ in range(2):
        app = ApplicationBootstrap(_config(tmp_path))
        await app.bootstrap()
        assert len(fresh_bus.observability_handlers) == 1
        await app.shutdown()


async def test_log_level_is_honoured(fresh_bus: MessageBus, tmp_path: Path) -> None:
    ApplicationBootstrap(_config(tmp_path, log_level="debug"))
    assert logging.getLogger("llmgine").level == logging.DEBUG
    ApplicationBootstrap(_config(tmp_path, log_level=LogLevel.ERROR))
    assert logging.getLogger("llmgine").level == logging.ERROR


def test_log_level_parse_rejects_unknown_names() -> None:
    assert LogLevel.parse("Warning") is LogLevel.WARNING
    assert LogLevel.parse(logging.INFO) is LogLevel.INFO
    try:
        LogLevel.parse("loud")
    except ValueError as exc:
        assert "debug" in str(exc)
    else:
        raise AssertionError("expected ValueError")


async def test_session_from_bootstrap_and_context_manager(
    fresh_bus: MessageBus, tmp_path: Path
) -> None:
    async with ApplicationBootstrap(_config(tmp_path)) as app:
        async with app.create_session("boot-session") as session:
            session.register_command_handler(BootPing, lambda c: c.session_id)
            result = await session.execute_with_session(BootPing())
        assert result.result == "boot-session"
        assert fresh_bus.is_running
    assert not fresh_bus.is_running


async def test_hooks_run_during_bootstrap(fresh_bus: MessageBus, tmp_path: Path) -> None:
    class MyApp(ApplicationBootstrap[ApplicationConfig]):
        def _register_command_handlers(self) -> None:
            self.register_command_handler(BootPing, lambda c: "from hook")

    app = MyApp(_config(tmp_path, enable_file_handler=False))
    await app.bootstrap()
    assert (await fresh_bus.execute(BootPing())).result == "from hook"
    await app.shutdown()


async def test_shutdown_with_an_unusable_data_dir_still_closes_the_handlers(
    fresh_bus: MessageBus, tmp_path: Path
) -> None:
    (tmp_path / "data").write_text("a file where the data directory should be")
    app = ApplicationBootstrap(_config(tmp_path))
    await app.bootstrap()
    await fresh_bus.publish(BootPinged(text="seen"))
    fresh_bus.publish_nowait(BootPinged(text="queued"))
    with pytest.raises(ConfigurationError, match="1 undelivered bus event"):
        await app.shutdown()
    assert fresh_bus.observability_handlers == []
    (log_file,) = (tmp_path / "logs").glob("*.jsonl")
    assert '"text":"seen"' in log_file.read_text()  # flushed before the error
