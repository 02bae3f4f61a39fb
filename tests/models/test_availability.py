"""The availability check: one tiny request per model, in parallel, each within a timeout."""

from __future__ import annotations

import importlib
import time

import pytest
from wire_fixtures import recorded_reply

from fake_server import FakeProviderServer, Reply, json_reply
from llmgine.models import get_model
from llmgine.models.availability import PROBE_PROMPT, check_models

# The SDKs are imported before the clock starts: the check's time is the models' own.
importlib.import_module("openai")
importlib.import_module("anthropic")


def stalled() -> Reply:
    """Headers, the start of a body, then nothing: the client waits until it gives up."""
    return Reply(
        status=200, headers={"content-type": "application/json"}, chunks=[b"{", b"}"], stall_after=1
    )


async def test_each_model_is_asked_once_in_parallel_and_failures_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with (
        FakeProviderServer() as openai,
        FakeProviderServer() as anthropic,
        FakeProviderServer() as deepseek,
        FakeProviderServer() as slow_a,
        FakeProviderServer() as slow_b,
    ):
        openai.add(recorded_reply("openai_chat_text"))
        anthropic.add(recorded_reply("anthropic_cache_5m", "responses", 0))
        deepseek.add(json_reply({"error": {"message": "Authentication Fails"}}, status=401))
        slow_a.add(stalled())
        slow_b.add(stalled())
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-ds")
        monkeypatch.setenv("XAI_API_KEY", "xai-key")
        monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
        monkeypatch.setenv("OPENAI_BASE_URL", f"{openai.url}/v1")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic.url)
        monkeypatch.setenv("DEEPSEEK_BASE_URL", deepseek.url)
        monkeypatch.setenv("XAI_BASE_URL", slow_a.url)
        monkeypatch.setenv("GEMINI_BASE_URL", slow_b.url)
        names = [
            "openai:gpt-4o",
            "anthropic:claude-sonnet-4-5",
            "deepseek:deepseek-chat",
            "xai:grok-3-mini",
            "gemini:gemini-2.5-flash",
            "nowhere:model",
        ]
        started = time.monotonic()
        results = await check_models(names, timeout=3.0)
        took = time.monotonic() - started
        received = [server.received for server in (openai, anthropic, deepseek, slow_a, slow_b)]
    assert [r.model for r in results] == names
    assert [r.ok for r in results] == [True, True, False, False, False, False]
    assert results[0].answer and results[0].answer.startswith("Hello!")
    assert results[1].answer
    assert results[2].error_type == "ProviderAuthError" and "Authentication Fails" in (
        results[2].error or ""
    )
    assert [r.error for r in results[3:5]] == ["no answer within 3 s"] * 2
    assert {r.error_type for r in results[3:5]} == {"timeout"}
    assert results[5].error_type == "UnknownModelError"
    # One request each, no retries, and the tiny prompt.
    assert [len(r) for r in received] == [1, 1, 1, 1, 1]
    body = received[0][0].json
    assert body["messages"] == [{"role": "user", "content": PROBE_PROMPT}]
    assert body["max_completion_tokens"] == 16
    assert received[1][0].json["max_tokens"] == 16
    # The two stalled models were waited for at the same time, not one after the other.
    assert took < 5.5, took  # one after the other: 6 s at least


async def test_a_missing_key_is_a_result_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never reached
    (result,) = await check_models([get_model("openai:gpt-4o")])
    assert not result.ok and result.error_type == "MissingAPIKeyError"
    assert "OPENAI_API_KEY" in (result.error or "")
