import pytest

from llmgine.errors import ModelRequestsBlockedError
from llmgine.models import get_model
from llmgine.providers import guard


def test_the_plugin_blocks_real_model_calls() -> None:
    assert guard.model_requests_allowed() is False


async def test_a_real_provider_url_is_refused_before_any_network() -> None:
    model = get_model("openai:gpt-4.1-mini", api_key="sk-never-used-000000")
    with pytest.raises(ModelRequestsBlockedError, match="TestModel"):
        await model.generate("Hi")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/v1", "http://localhost:11434/v1", "http://[::1]:8000/v1"]
)
def test_local_servers_are_allowed(url: str) -> None:
    guard.check_model_request(url, "openai-compatible", "m")


def test_other_hosts_are_refused() -> None:
    for url in ("https://api.anthropic.com", "http://10.0.0.5:8000/v1", "https://openrouter.ai"):
        with pytest.raises(ModelRequestsBlockedError):
            guard.check_model_request(url, "p", "m")


@pytest.mark.allow_model_requests
def test_the_marker_lifts_the_block() -> None:
    assert guard.model_requests_allowed() is True
    guard.check_model_request("https://api.openai.com/v1", "openai", "gpt-4.1-mini")


def test_the_block_is_back_after_a_marked_test() -> None:
    assert guard.model_requests_allowed() is False


async def test_missing_key_is_a_clear_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from llmgine.errors import MissingAPIKeyError

    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.setenv("DEEPSEEK_BASE_URL", "http://127.0.0.1:9")
    model = get_model("deepseek:deepseek-chat")
    with pytest.raises(MissingAPIKeyError) as info:
        await model.generate("Hi")
    assert info.value.variable == "DEEPSEEK_API_KEY"
    assert "DEEPSEEK_API_KEY" in str(info.value) and ".env" in str(info.value)
