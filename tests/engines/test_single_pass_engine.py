import pytest

from llmgine.bus.bus import MessageBus
from llmgine.engines import (
    SinglePassEngine,
    SinglePassEngineCommand,
    SinglePassEngineStatusEvent,
    use_single_pass_engine,
)
from llmgine.errors import EngineError, ProviderServerError
from llmgine.models.retry import NO_RETRY
from llmgine.testing import ScriptedModel


async def test_one_call_with_the_system_prompt(bus: MessageBus) -> None:
    model = ScriptedModel(["Arr, hello!"])
    engine = SinglePassEngine(model, "Speak like a pirate.", session_id="p")
    statuses: list[str] = []
    bus.register_event_handler(
        SinglePassEngineStatusEvent, lambda e: statuses.append(e.status), "p"
    )
    engine.register()
    result = await bus.execute(SinglePassEngineCommand("hello", session_id="p"))
    assert result.success and result.result == "Arr, hello!"
    assert model.requests[0].messages == [
        {"role": "system", "content": "Speak like a pirate."},
        {"role": "user", "content": "hello"},
    ]
    assert statuses[-1] == "finished"
    assert result.metadata["usage"]["total_tokens"] > 0


async def test_no_history_between_prompts(bus: MessageBus) -> None:
    model = ScriptedModel(["one", "two"])
    engine = SinglePassEngine(model)
    await engine.execute("first")
    await engine.execute("second")
    assert model.requests[1].messages == [{"role": "user", "content": "second"}]


async def test_failure_and_the_engine_function(bus: MessageBus) -> None:
    down = ScriptedModel([ProviderServerError("down", provider="p", model="m", status=503)])
    down.retry = NO_RETRY
    result = await SinglePassEngine(down).execute("hi")
    assert not result.success and "down" in (result.error or "")
    assert await use_single_pass_engine("hi", model="test") != ""
    with pytest.raises(EngineError):
        flaky = ScriptedModel([ProviderServerError("down", provider="p", model="m", status=503)])
        flaky.retry = NO_RETRY
        await use_single_pass_engine("hi", model=flaky)
