"""The OpenAI-wire provider on responses recorded from real APIs (see tests/llm/wire).

Streams cut short, dropped or stalled; reasoning (``reasoning_effort``,
DeepSeek's ``reasoning_content``); thinking blocks of other providers' answers
never sent on this wire. The real openai SDK talks to the local fake server.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from wire_fixtures import recorded, recorded_events, recorded_reply, recorded_stream

from fake_server import FakeProviderServer, Reply, json_reply
from llmgine.bus.bus import MessageBus
from llmgine.errors import ProviderConnectionError, ProviderResponseError, ProviderTimeoutError
from llmgine.models import Model, get_model, instrument
from llmgine.models.openai import OpenAIChatModel
from llmgine.models.response import LLMResponse, TextDelta, ThinkingDelta, ThinkingPart
from llmgine.models.retry import RetryPolicy
from llmgine.tools.tool_call import ToolCall

FAST = RetryPolicy(initial_delay=0.001, jitter=0, max_attempts=3)

_open: list[Any] = []


@pytest.fixture(autouse=True)
async def close_models() -> AsyncIterator[None]:
    yield
    while _open:
        await _open.pop().aclose()


def model_for(
    server: FakeProviderServer, name: str = "gpt-4o-mini", provider: str = "openai", **settings: Any
) -> Model:
    settings.setdefault("retry", FAST)
    settings.setdefault("timeout", 30)
    model = OpenAIChatModel(
        provider, name, api_key="sk-test", base_url=f"{server.url}/v1", **settings
    )
    _open.append(model)
    return instrument(model, MessageBus())


def cut(name: str, keep: int, tail: bytes = b"") -> Reply:
    """The first ``keep`` events of a recorded stream (and ``tail``), ended properly."""
    events = recorded_events(name)[:keep]
    return Reply(
        status=200,
        headers={"content-type": "text/event-stream"},
        chunks=[*events, tail] if tail else events,
    )


# -- recorded streams ------------------------------------------------------------------


async def test_recorded_tool_call_stream(fake_server: FakeProviderServer) -> None:
    fake_server.add(recorded_stream("openai_tool_call_stream"))
    chunks = [c async for c in model_for(fake_server).stream("Capital of the UK?")]
    response = chunks[-1]
    assert response.tool_calls == [
        ToolCall(
            id="call_ZR5UUuTt3pf61kjwAJIYdVMj", name="get_capital", arguments='{"country":"UK"}'
        )
    ]
    assert response.finish_reason == "tool_calls"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (53, 15)


async def test_recorded_text_stream(fake_server: FakeProviderServer) -> None:
    fake_server.add(recorded_stream("openai_text_stream"))
    chunks = [c async for c in model_for(fake_server).stream("Capital of the UK?")]
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == (
        "The capital of the UK is London."
    )
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage.total_tokens == 87


# -- streams that go wrong ---------------------------------------------------------------


async def test_a_stream_cut_before_its_finish_reason_is_a_response_error(
    fake_server: FakeProviderServer,
) -> None:
    # Everything up to " London" arrives; no finish_reason, no usage, no [DONE].
    fake_server.add(cut("openai_text_stream", 8))
    seen: list[Any] = []
    with pytest.raises(ProviderResponseError, match="no finish_reason"):
        async for chunk in model_for(fake_server).stream("Capital of the UK?"):
            seen.append(chunk)
    assert not any(isinstance(chunk, LLMResponse) for chunk in seen)
    assert len(fake_server.received) == 1  # text was shown: not retried


async def test_a_complete_stream_without_a_finish_reason_is_accepted(
    fake_server: FakeProviderServer,
) -> None:
    # Some compatible servers leave finish_reason out; their usage chunk still ends the answer.
    events = recorded_events("openai_text_stream")
    without_finish = [event for event in events if b'"finish_reason":"stop"' not in event]
    assert len(without_finish) == len(events) - 1
    fake_server.add(
        Reply(status=200, headers={"content-type": "text/event-stream"}, chunks=without_finish)
    )
    chunks = [c async for c in model_for(fake_server).stream("Capital of the UK?")]
    assert chunks[-1].content == "The capital of the UK is London."
    assert chunks[-1].finish_reason is None and chunks[-1].usage.total_tokens == 87


async def test_a_stream_cut_mid_event_is_a_response_error(fake_server: FakeProviderServer) -> None:
    events = recorded_events("openai_text_stream")
    half = events[8][: len(events[8]) // 2]  # half of the " London" event, no blank line
    fake_server.add(cut("openai_text_stream", 8, tail=half))
    with pytest.raises(ProviderResponseError):
        _ = [c async for c in model_for(fake_server).stream("Capital of the UK?")]


async def test_a_dropped_stream_is_a_connection_error(fake_server: FakeProviderServer) -> None:
    fake_server.add(recorded_stream("openai_text_stream", drop_after=4))
    with pytest.raises(ProviderConnectionError) as caught:
        _ = [c async for c in model_for(fake_server).stream("Capital of the UK?")]
    assert "openai" in str(caught.value) and "dropped mid-stream" in str(caught.value)
    assert len(fake_server.received) == 1


async def test_a_stalled_stream_is_a_timeout_naming_the_wait(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_stream("openai_tool_call_stream", stall_after=3))
    model = model_for(fake_server, timeout=0.5)
    with pytest.raises(ProviderTimeoutError) as caught:
        async with asyncio.timeout(60):
            _ = [c async for c in model.stream("Capital of the UK?")]
    assert "openai sent nothing for 0.5 s" in str(caught.value)
    assert len(fake_server.received) == 1


@pytest.mark.parametrize("fault", [{"drop_after": 1}, {"stall_after": 1}])
async def test_a_fault_before_any_output_is_retried(
    fake_server: FakeProviderServer, fault: dict[str, int]
) -> None:
    # The first event holds only the role (empty content): nothing reaches the caller.
    fake_server.add(
        recorded_stream("openai_text_stream", **fault), recorded_stream("openai_text_stream")
    )
    model = model_for(fake_server, timeout=0.5)
    async with asyncio.timeout(60):
        chunks = [c async for c in model.stream("Capital of the UK?")]
    assert chunks[-1].content == "The capital of the UK is London."
    assert len(fake_server.received) == 2


# -- reasoning ------------------------------------------------------------------------------


async def test_reasoning_effort_from_the_model_string(fake_server: FakeProviderServer) -> None:
    wire = recorded("openai_reasoning_effort")
    fake_server.add(recorded_reply("openai_reasoning_effort"))
    model = get_model(
        "openai:o3-mini?reasoning_effort=high",
        api_key="sk-test",
        base_url=f"{fake_server.url}/v1",
        retry=FAST,
    )
    _open.append(model)
    response = await model.generate("How do I cross the river?", temperature=0.3)
    sent = fake_server.received[0].json
    assert sent["reasoning_effort"] == wire["request_keys"]["reasoning_effort"] == "high"
    assert "temperature" not in sent
    assert response.usage.reasoning_tokens == 1792
    assert response.usage.completion_tokens == 2320
    # o3-mini: $1.10 input, $4.40 output (reasoning tokens are output tokens).
    assert response.cost_usd == pytest.approx((577 * 1.10 + 2320 * 4.40) / 1e6)
    assert response.thinking_blocks == []  # OpenAI keeps its reasoning hidden


async def test_reasoning_content_becomes_thinking_and_is_not_sent_back(
    fake_server: FakeProviderServer,
) -> None:
    wire = recorded("deepseek_reasoner")["response"]["choices"][0]["message"]
    fake_server.add(recorded_reply("deepseek_reasoner"), recorded_reply("deepseek_reasoner"))
    model = model_for(fake_server, "deepseek-reasoner", provider="deepseek")
    response = await model.generate("How do I cross the street?")
    assert response.thinking == wire["reasoning_content"]
    assert response.thinking_blocks == [ThinkingPart(wire["reasoning_content"])]
    assert response.content == wire["content"]
    assert response.usage.reasoning_tokens == 415

    history = [
        {"role": "user", "content": "Hi"},
        response.to_message(),
        {"role": "user", "content": "And?"},
    ]
    await model.generate(history)
    sent = fake_server.received[1].json["messages"][1]
    assert sent == {"role": "assistant", "content": wire["content"]}


async def test_streamed_reasoning_content_is_thinking_deltas(
    fake_server: FakeProviderServer,
) -> None:
    fake_server.add(recorded_stream("deepseek_reasoner_stream"))
    model = model_for(fake_server, "deepseek-reasoner", provider="deepseek")
    chunks = [c async for c in model.stream("Hello")]
    assert [c.text for c in chunks if isinstance(c, ThinkingDelta)] == [
        "H",
        "mm",
        ",",
        " the",
        " user",
    ]
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == " there! How can"
    response = chunks[-1]
    assert response.thinking == "Hmm, the user"
    assert response.usage.reasoning_tokens == 198


async def test_anthropic_thinking_blocks_are_not_sent_on_this_wire(
    fake_server: FakeProviderServer,
) -> None:
    anthropic_turn = recorded("anthropic_thinking_tool_use")["requests"][1]["messages"]
    signed = {
        "role": "assistant",
        "content": "I'll help you find the largest city in your country.",
        "thinking_blocks": [anthropic_turn[1]["content"][0]],
    }
    fake_server.add(recorded_stream("openai_text_stream"))
    _ = [
        c async for c in model_for(fake_server).stream([{"role": "user", "content": "Hi"}, signed])
    ]
    sent = fake_server.received[0].json["messages"]
    assert sent[1] == {"role": "assistant", "content": signed["content"]}
    assert "thinking_blocks" in signed  # the caller's message is left as it was


async def test_openrouter_cache_writes_and_deepseek_cache_hits_are_kept(
    fake_server: FakeProviderServer,
) -> None:
    # The usage object of OpenRouter's documented example response
    # (https://openrouter.ai/docs/use-cases/usage-accounting): no public recording of
    # cache_write_tokens was found. The rest of the body is the recorded DeepSeek one, whose
    # prompt_cache_hit_tokens (recorded: 0) is set to 8 for the second reply.
    body = recorded("deepseek_reasoner")["response"]
    openrouter = {
        **body,
        "usage": {
            "completion_tokens": 2,
            "completion_tokens_details": {"reasoning_tokens": 0},
            "cost": 0.95,
            "cost_details": {"upstream_inference_cost": 19},
            "prompt_tokens": 194,
            "prompt_tokens_details": {
                "cached_tokens": 0,
                "cache_write_tokens": 100,
                "audio_tokens": 0,
            },
            "total_tokens": 196,
        },
    }
    hits = {**body, "usage": {**body["usage"], "prompt_cache_hit_tokens": 8}}
    fake_server.add(json_reply(openrouter), json_reply(hits))
    model = model_for(fake_server, "anthropic/claude-sonnet-4", provider="openrouter")
    usage = (await model.generate("Hi")).usage
    assert (usage.prompt_tokens, usage.cache_write_tokens, usage.cached_tokens) == (194, 100, 0)
    deepseek = model_for(fake_server, "deepseek-reasoner", provider="deepseek")
    assert (await deepseek.generate("Hi")).usage.cached_tokens == 8
