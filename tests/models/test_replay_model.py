"""ReplayModel: a logged run's model calls answered from its log, by request hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from llmgine.errors import ConfigurationError, ProviderRateLimitError, ProviderServerError
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, TextDelta, ToolCallDelta, Usage
from llmgine.models.retry import RetryPolicy
from llmgine.testing import (
    CallInfo,
    FunctionModel,
    ReplayMismatchError,
    ReplayModel,
    ScriptedModel,
    UnplayedRecordingsError,
    instrument,
)
from llmgine.tools import ToolCall
from log_recording import Recording

NO_WAIT = RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0, jitter=0.0)


def ask(text: str) -> LLMRequest:
    return LLMRequest(model="m", messages=[{"role": "user", "content": text}])


def echo(messages: list[dict[str, object]], info: CallInfo) -> str:
    return f"you said {messages[-1]['content']}"


async def record(recording: Recording, model: object, *requests: LLMRequest) -> list[Path]:
    live = instrument(model, recording.bus)  # type: ignore[arg-type]
    for request in requests:
        await live.request(request)
    return recording.files()


async def test_answers_match_by_request_not_by_position(recording: Recording) -> None:
    files = await record(recording, FunctionModel(echo), ask("one"), ask("two"), ask("three"))
    replay = ReplayModel.from_log(files)
    assert (replay.provider, replay.name) == ("function", "function")
    for text in ("three", "one", "two"):
        response = await replay.request(ask(text))
        assert response.content == f"you said {text}"
    replay.assert_complete()


async def test_the_same_request_twice_gets_its_answers_in_order(recording: Recording) -> None:
    model = ScriptedModel(["first", LLMResponse(content="second", usage=Usage(3, 4))])
    files = await record(recording, model, ask("again"), ask("again"))
    replay = ReplayModel.from_log(files)
    first, second = await replay.request(ask("again")), await replay.request(ask("again"))
    assert (first.content, second.content) == ("first", "second")
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (3, 4)


async def test_a_request_the_log_does_not_hold_shows_a_diff(recording: Recording) -> None:
    files = await record(recording, FunctionModel(echo), ask("Weather in Perth?"))
    replay = ReplayModel.from_log(files)
    with pytest.raises(ReplayMismatchError) as caught:
        await replay.request(ask("Weather in Sydney?"))
    message = str(caught.value)
    assert "no recorded answer for this request" in message
    assert '-  "content": "Weather in Perth?"' in message
    assert '+  "content": "Weather in Sydney?"' in message


async def test_recorded_errors_are_raised_again_so_retries_replay(
    recording: Recording,
) -> None:
    failing = ScriptedModel(
        [
            ProviderRateLimitError("slow down", provider="scripted", model="scripted", status=429),
            ProviderServerError("overloaded", provider="scripted", model="scripted", status=503),
            "finally",
        ],
        retry=NO_WAIT,
    )
    files = await record(recording, failing, ask("hi"))
    replay = ReplayModel.from_log(files)
    with pytest.raises(ProviderRateLimitError, match="slow down") as first:
        await replay.request(ask("hi"))
    assert first.value.status == 429
    with pytest.raises(ProviderServerError, match="overloaded"):
        await replay.request(ask("hi"))
    assert (await replay.request(ask("hi"))).content == "finally"
    # Through the retrying wrapper, the recorded attempts play out as one call.
    again = instrument(ReplayModel.from_log(files))
    assert (await again.request(ask("hi"))).content == "finally"


async def test_a_removed_answer_is_named_as_such(recording: Recording) -> None:
    (path,) = await record(recording, FunctionModel(echo), ask("one"))
    lines = [line for line in path.read_text().splitlines() if "LLMResponseEvent" not in line]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReplayMismatchError, match="no answer to it"):
        await ReplayModel.from_log(path).request(ask("one"))


async def test_assert_complete_names_what_was_never_asked(recording: Recording) -> None:
    files = await record(recording, FunctionModel(echo), ask("one"), ask("two"))
    replay = ReplayModel.from_log(files)
    await replay.request(ask("two"))
    assert replay.remaining == 1
    with pytest.raises(UnplayedRecordingsError, match=r"1 of 2 recorded calls.*one"):
        replay.assert_complete()


async def test_streams_replay_their_recorded_pieces(recording: Recording) -> None:
    def stream(messages: list[dict[str, object]], info: CallInfo) -> list[str | ToolCallDelta]:
        return ["It is ", "17 C", ToolCallDelta(0, id="c1", name="f", arguments="{}")]

    from llmgine.engines import ToolChatEngine

    engine = ToolChatEngine("s", model=FunctionModel(echo, stream_fn=stream))
    question = [{"role": "user", "content": "weather"}]
    await engine.generate(engine.model, question, stream=True)
    replay = ReplayModel.from_log(recording.files())
    replayed = [c async for c in replay.stream(question)]
    assert [c.text for c in replayed if isinstance(c, TextDelta)] == ["It is ", "17 C"]
    final = replayed[-1]
    assert isinstance(final, LLMResponse)
    assert final.content == "It is 17 C"
    assert final.tool_calls == [ToolCall("c1", "f", "{}")]
    assert [c for c in replayed if isinstance(c, ToolCallDelta)] == [
        ToolCallDelta(0, id="c1", name="f", arguments="{}")
    ]


class City(BaseModel):
    name: str
    population: int


async def test_structured_answers_replay_and_validate_again(recording: Recording) -> None:
    def reply(messages: list[dict[str, object]], info: CallInfo) -> str:
        return '{"name": "Perth", "population": 2300000}'

    live = instrument(FunctionModel(reply), recording.bus)
    city, _ = await live.request_structured(ask("A city?"), City, max_retries=1)
    replay = ReplayModel.from_log(recording.files())
    again, response = await replay.request_structured(ask("A city?"), City, max_retries=1)
    assert again == city == City(name="Perth", population=2_300_000)
    assert response.content is not None
    with pytest.raises(ReplayMismatchError):  # another schema is another request
        await replay.request_structured(ask("A city?"), dict, max_retries=1)


async def test_a_log_of_several_models_needs_to_be_told_which(recording: Recording) -> None:
    await record(recording, FunctionModel(echo), ask("one"))
    files = await record(recording, ScriptedModel(["x"]), ask("two"))
    with pytest.raises(ConfigurationError, match=r"2 models \(function, scripted\)"):
        ReplayModel.from_log(files)
    with pytest.raises(ConfigurationError, match="no calls of openai:gpt-4o"):
        ReplayModel.from_log(files, model="openai:gpt-4o")
    replay = ReplayModel.from_log(files, model="scripted")
    assert (await replay.request(ask("two"))).content == "x"


def test_a_log_with_no_calls_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ConfigurationError, match=r"0 models \(none\)"):
        ReplayModel.from_log(empty)


async def test_not_strict_asks_the_fallback(recording: Recording) -> None:
    files = await record(recording, FunctionModel(echo), ask("one"))
    fallback: Callable[[list[dict[str, object]], CallInfo], str] = lambda m, i: "live answer"  # noqa: E731
    replay = ReplayModel.from_log(files, strict=False, fallback=FunctionModel(fallback))
    assert (await replay.request(ask("one"))).content == "you said one"
    assert (await replay.request(ask("new"))).content == "live answer"
