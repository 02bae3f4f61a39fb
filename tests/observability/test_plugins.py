"""Observability plugins: handlers declared under the llmgine.observers entry points, by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmgine.bootstrap import ApplicationBootstrap, ApplicationConfig
from llmgine.bus.bus import MessageBus
from llmgine.engines import use_single_pass_engine
from llmgine.errors import ConfigurationError
from llmgine.observability import (
    ConsoleEventHandler,
    FileEventHandler,
    ObserverPluginError,
    available_observers,
    load_observer,
)

PLUGIN = '''
import os

from llmgine.observability.base import ObservabilityEventHandler


class Recorder(ObservabilityEventHandler):
    """Writes the type of every event it sees, one a line."""

    def __init__(self, path=None, **kwargs):
        super().__init__(**kwargs)
        self.path = path or os.environ["RECORDER_FILE"]
        self.seen = []

    def handle(self, event):
        self.seen.append(type(event).__name__)
        with open(self.path, "a") as out:
            out.write(type(event).__name__ + "\\n")


def broken(**options):
    raise RuntimeError("the collector is down")


def not_a_handler(**options):
    return object()
'''

ENTRY_POINTS = """[llmgine.observers]
recorder = llmgine_test_observer:Recorder
broken = llmgine_test_observer:broken
wrong = llmgine_test_observer:not_a_handler
missing = llmgine_test_observer_gone:Handler
"""


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed ``llmgine`` command, with no API key in its environment."""
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("llmgine")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**clean, **env},
    )


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A folder holding an installed distribution that declares observer plugins."""
    site = tmp_path / "site"
    (site / "llmgine_test_observer").mkdir(parents=True)
    (site / "llmgine_test_observer" / "__init__.py").write_text(PLUGIN)
    info = site / "llmgine_test_observer-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: llmgine-test-observer\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


@pytest.fixture
def installed(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(plugin_dir))
    return plugin_dir


def test_installed_plugins_and_llmgines_own_are_found(installed: Path) -> None:
    found = available_observers()
    assert {"recorder", "broken", "wrong", "missing", "console", "jsonl", "otel"} <= set(found)
    assert found["recorder"].value == "llmgine_test_observer:Recorder"
    assert isinstance(load_observer("console"), ConsoleEventHandler)
    jsonl = load_observer("jsonl", log_dir=str(installed / "logs"))
    assert isinstance(jsonl, FileEventHandler)
    jsonl.close()


async def test_an_observer_named_in_the_config_sees_every_event(
    fresh_bus: MessageBus, installed: Path, tmp_path: Path
) -> None:
    app = ApplicationBootstrap(
        ApplicationConfig(
            enable_console_handler=False,
            enable_file_handler=False,
            observers=["recorder"],
            observer_options={"recorder": {"path": str(tmp_path / "events.txt")}},
        )
    )
    await app.bootstrap()
    (recorder,) = app.observability_handlers
    assert type(recorder).__name__ == "Recorder"
    assert await use_single_pass_engine("hello", model="test")
    await app.shutdown()
    assert {"CommandStartedEvent", "LLMCallEvent", "LLMResponseEvent", "CommandResultEvent"} <= set(
        recorder.seen  # type: ignore[attr-defined]
    )
    assert (tmp_path / "events.txt").read_text().splitlines() == recorder.seen  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope", r"no observer plugin is named 'nope' \(installed: broken, console, .*recorder"),
        ("broken", r"'broken' = .*failed to start: RuntimeError: the collector is down"),
        ("wrong", r"'wrong' = .* gave a object, not an ObservabilityEventHandler"),
        ("missing", r"'missing' = .*cannot be loaded: ModuleNotFoundError"),
    ],
)
async def test_a_plugin_that_cannot_work_is_a_clear_error_and_nothing_starts(
    fresh_bus: MessageBus, installed: Path, name: str, message: str
) -> None:
    with pytest.raises(ObserverPluginError, match=message) as caught:
        load_observer(name)
    assert isinstance(caught.value, ConfigurationError)
    app = ApplicationBootstrap(ApplicationConfig(enable_file_handler=False, observers=[name]))
    with pytest.raises(ObserverPluginError):
        await app.bootstrap()
    assert not fresh_bus.is_running and app.observability_handlers == []


def test_observer_on_the_command_line(plugin_dir: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.txt"
    env = {"PYTHONPATH": str(plugin_dir), "RECORDER_FILE": str(events)}
    base = ["--model", "demo", "--observer", "recorder", "--prompt", "hello"]
    for command in (["chat", "--no-save"], ["ask"]):
        events.unlink(missing_ok=True)
        proc = run([*command, *base], tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        seen = events.read_text().splitlines()
        assert "RunStartedEvent" in seen and "CommandResultEvent" in seen, command
    for command in (["chat"], ["ask"], ["consortium"]):
        proc = run([*command, "--observer", "nope", "--prompt", "x"], tmp_path, env=env)
        assert proc.returncode == 2, (command, proc.stderr)
        assert proc.stderr.startswith("error: no observer plugin is named 'nope'")
        assert "Traceback" not in proc.stderr
