"""The ``llmgine_cassette`` fixture: record against a (local) provider once, replay offline.

The inner test suites run in their own pytest processes (pytester), talking
with the real OpenAI SDK to the fake provider server, which answers with a
response recorded from the real API (``wire/openai_chat_text.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_server import FakeProviderServer, json_reply

pytest_plugins = ["pytester"]

#: A Chat Completions response recorded from the real API (see its "source").
RECORDED = json.loads(
    (Path(__file__).parents[1] / "models" / "wire" / "openai_chat_text.json").read_text()
)

INNER_TEST = """
import os

from llmgine.engines import ToolChatEngine


async def test_capital(llmgine_cassette):
    model = llmgine_cassette.model(
        "openai-compatible:gpt-4o@" + os.environ["FAKE_URL"] + "/v1"
    )
    engine = ToolChatEngine(model=model, stream=False)
    answer = await engine.answer(os.environ.get("QUESTION", "Hello! How are you doing?"))
    assert answer.startswith("Hello! I'm just a computer program")
"""


def run_inner(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")


def test_record_once_then_replay_without_the_server(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_capital=INNER_TEST)
    monkeypatch.delenv("LLMGINE_RECORD", raising=False)
    cassette = pytester.path / "cassettes" / "test_capital" / "test_capital.jsonl"
    with FakeProviderServer() as server:
        monkeypatch.setenv("FAKE_URL", server.url)
        missing = run_inner(pytester)
        missing.assert_outcomes(failed=1)
        missing.stdout.fnmatch_lines(["*no cassette*record it once with LLMGINE_RECORD=1*"])
        assert server.received == [] and not cassette.exists()

        server.add(json_reply(RECORDED["response"]))
        monkeypatch.setenv("LLMGINE_RECORD", "1")
        run_inner(pytester).assert_outcomes(passed=1)
        assert len(server.received) == 1
    kinds = [json.loads(line)["event_type"] for line in cassette.read_text().splitlines()]
    assert "RunStartedEvent" in kinds and "LLMResponseEvent" in kinds

    # The server is gone: the replay needs nothing but the cassette.
    monkeypatch.delenv("LLMGINE_RECORD")
    run_inner(pytester).assert_outcomes(passed=1)

    monkeypatch.setenv("QUESTION", "What is the capital of Spain?")
    changed = run_inner(pytester)
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        ["*no recorded answer for this request*", '*+*"content": "What is the capital of Spain?"*']
    )
