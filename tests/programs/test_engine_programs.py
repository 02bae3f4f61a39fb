"""The engine examples and the engine guide's code run as written, offline."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ROOT / "programs" / "engines"
GUIDE = (ENGINES / "engine_guide.md").read_text()
TEXT = "The cat sat on the mat. It purred!"
OFFLINE_REPLY = "This is a reply from the offline TestModel"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["LLMGINE_DATA_DIR"] = str(tmp_path / "bus-data")
    return env


def run(
    args: list[str], tmp_path: Path, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or tmp_path,
        env=_env(tmp_path),
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def event_types(log_dir: Path) -> set[str]:
    (log,) = log_dir.glob("*.jsonl")
    return {json.loads(line)["event_type"] for line in log.read_text().splitlines()}


# -- word_count_engine.py ----------------------------------------------------------


def test_word_count_engine_answers_once_with_the_launcher(tmp_path: Path) -> None:
    engine = str(ENGINES / "word_count_engine.py")
    args = [engine, "--model", "test", "--prompt", TEXT, "--log-dir", str(tmp_path / "logs")]
    proc = run(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(OFFLINE_REPLY)
    # The counts are streamed after the summary, so they reach stdout too.
    assert proc.stdout.rstrip().endswith("[words: 8, sentences: 2, summary: 24]")
    assert proc.stderr == ""
    types = event_types(tmp_path / "logs")
    assert {"WordCountEngineStatusEvent", "EngineTextDeltaEvent", "LLMCallEvent"} <= types


def test_word_count_engine_reads_stdin_and_reports_failures(tmp_path: Path) -> None:
    engine = str(ENGINES / "word_count_engine.py")
    logs = ["--log-dir", str(tmp_path / "logs")]
    piped = run([engine, "--model", "test", "--no-stream", *logs], tmp_path, stdin="one two\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith(OFFLINE_REPLY)
    assert "[words: 2, sentences: 1, summary: 24]" in piped.stdout

    # The command line refuses an empty prompt before the engine sees it.
    empty = run([engine, "--model", "test", "--prompt", "  ", *logs], tmp_path)
    assert empty.returncode == 2
    assert empty.stderr == "error: no prompt given\n"

    keyless = run([engine, "--model", "openai:gpt-4.1-mini", "--prompt", TEXT, *logs], tmp_path)
    assert keyless.returncode == 1
    assert "OPENAI_API_KEY" in keyless.stderr


def test_word_count_engine_is_importable(tmp_path: Path) -> None:
    code = """
import asyncio
from llmgine.testing import ScriptedModel
from llmgine.engines import EngineTextDeltaEvent
from programs.engines.word_count_engine import WordCountEngine, use_word_count_engine

async def main():
    model = ScriptedModel(["A cat purred."])
    engine = WordCountEngine(model, session_id="s", stream=True)
    streamed = []
    engine.bus.register_event_handler(
        EngineTextDeltaEvent, lambda e: streamed.append(e.text), session_id="s"
    )
    result = await engine.execute("The cat sat on the mat. It purred!", summary_words=5)
    assert result.success and "".join(streamed) == result.result, (streamed, result)
    assert "at most 5 words" in model.requests[0].messages[0]["content"]
    print(result.metadata["words"], result.metadata["usage"]["total_tokens"] > 0)
    empty = await engine.execute("   ")
    assert not empty.success and empty.error == "nothing to count: the text is empty", empty
    print(await use_word_count_engine("one two three", model="test"))

asyncio.run(main())
"""
    proc = run(["-c", code], tmp_path, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert first == "8 True"
    assert rest[0].startswith(OFFLINE_REPLY)
    assert rest[-1] == "[words: 3, sentences: 1, summary: 24]"


# -- script_example.py -------------------------------------------------------------


def test_script_example_runs_offline(tmp_path: Path) -> None:
    proc = run([str(ENGINES / "script_example.py")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    single, tool_chat = proc.stdout.splitlines()
    assert single.startswith(f"single pass: {OFFLINE_REPLY}")
    # TestModel calls both weather tools, then sums up their results.
    assert tool_chat.startswith("tool chat: Tool results: get_weather: a: ")
    assert "get_forecast: [" in tool_chat
    assert proc.stderr == ""


def test_script_example_reports_a_bad_model_in_one_line(tmp_path: Path) -> None:
    proc = run([str(ENGINES / "script_example.py"), "--model", "nope:x"], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: unknown provider 'nope'")
    assert proc.stderr.strip().count("\n") == 0


# -- engine_guide.md ---------------------------------------------------------------


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE, flags=re.DOTALL)


def test_guide_programs_run(tmp_path: Path) -> None:
    runnable = [block for block in _python_blocks() if "asyncio.run(" in block]
    assert len(runnable) >= 7, "the guide's complete programs"
    for block in runnable:
        # From the repository root, as a reader would (tools/weather.py, programs.engines).
        proc = run(["-c", block], tmp_path, cwd=ROOT)
        assert proc.returncode == 0, f"{proc.stderr}\n--- in ---\n{block}"
        assert proc.stdout.strip(), block  # each one prints what it shows


def test_guide_snippets_compile() -> None:
    for block in _python_blocks():
        # Snippets may use top-level await, as in a notebook or `python -m asyncio`.
        compile(block, "<engine_guide.md>", "exec", flags=0x2000)  # PyCF_ALLOW_TOP_LEVEL_AWAIT


def test_guide_names_files_that_exist() -> None:
    for path in set(re.findall(r"(?<![\w/])(?:programs|tools|tests)/[\w/]+\.py", GUIDE)):
        assert (ROOT / path).is_file(), path
    for link in set(re.findall(r"\]\(([\w.]+\.py)\)", GUIDE)):
        assert (ENGINES / link).is_file(), link
