import pytest

from llmgine.errors import UnknownModelError
from llmgine.models import (
    AnthropicModel,
    Claude35Haiku,
    Gemini25FlashPreview,
    Gpt41,
    Gpt41Mini,
    Gpt_4o_Mini_Latest,
    Gpt_o3_Mini,
    Grok3Mini,
    InstrumentedModel,
    Model,
    OpenAIChatModel,
    ProviderModel,
    Providers,
    get_model,
)


@pytest.mark.parametrize(
    ("name", "provider", "model_id", "base_url"),
    [
        ("openai:gpt-4.1-mini", "openai", "gpt-4.1-mini", "https://api.openai.com/v1"),
        (
            "anthropic:claude-3-5-haiku-latest",
            "anthropic",
            "claude-3-5-haiku-latest",
            "https://api.anthropic.com",
        ),
        (
            "openrouter:google/gemini-2.5-flash",
            "openrouter",
            "google/gemini-2.5-flash",
            "https://openrouter.ai/api/v1",
        ),
        (
            "gemini:gemini-2.5-flash",
            "gemini",
            "gemini-2.5-flash",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
        ),
        ("xai:grok-3-mini", "xai", "grok-3-mini", "https://api.x.ai/v1"),
        ("deepseek:deepseek-chat", "deepseek", "deepseek-chat", "https://api.deepseek.com"),
        ("ollama:llama3.2", "ollama", "llama3.2", "http://localhost:11434/v1"),
        (
            "openai-compatible:qwen2.5:7b@http://127.0.0.1:8000/v1",
            "openai-compatible",
            "qwen2.5:7b",
            "http://127.0.0.1:8000/v1",
        ),
        ("gpt-4.1-mini", "openai", "gpt-4.1-mini", "https://api.openai.com/v1"),
        ("claude-sonnet-4-0", "anthropic", "claude-sonnet-4-0", "https://api.anthropic.com"),
    ],
)
def test_model_strings(
    name: str, provider: str, model_id: str, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OLLAMA_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    model = get_model(name)
    assert isinstance(model, InstrumentedModel) and isinstance(model.wrapped, ProviderModel)
    wire = AnthropicModel if provider == "anthropic" else OpenAIChatModel
    assert type(model.wrapped) is wire
    assert (model.provider, model.name) == (provider, model_id)
    assert model.base_url == base_url
    assert model.model_string == f"{provider}:{model_id}"


def test_construction_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    get_model("openai:gpt-4.1-mini")  # the key is looked up at the first call


def test_test_model_and_model_objects() -> None:
    from llmgine.testing import TestModel

    assert isinstance(get_model("test").wrapped, TestModel)  # type: ignore[attr-defined]
    model = get_model("openai:gpt-4.1")
    assert get_model(model) is model


@pytest.mark.parametrize("name", ["foo:bar", "mistral-large", "openai:", "openai-compatible:m"])
def test_bad_names_list_the_known_providers(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_COMPATIBLE_BASE_URL", raising=False)
    with pytest.raises(UnknownModelError) as info:
        get_model(name)
    message = str(info.value)
    assert name.split(":")[0] in message or "openai-compatible" in message
    if name in ("foo:bar", "mistral-large"):
        assert "anthropic" in message and "openrouter" in message and "test" in message


def test_settings_reach_the_model() -> None:
    from llmgine.models.retry import RetryPolicy

    policy = RetryPolicy(max_attempts=7)
    model = get_model("openai:gpt-4.1-mini", retry=policy, timeout=5, temperature=0.1)
    assert isinstance(model, InstrumentedModel)
    assert model.retry is policy and model.timeout == 5 and model.defaults == {"temperature": 0.1}


@pytest.mark.parametrize(
    ("preset", "provider", "expected"),
    [
        (Gpt41Mini, Providers.OPENAI, "openai:gpt-4.1-mini"),
        (Gpt41Mini, Providers.OPENROUTER, "openrouter:openai/gpt-4.1-mini"),
        (Gpt41, Providers.OPENAI, "openai:gpt-4.1"),
        (Gpt_4o_Mini_Latest, Providers.OPENAI, "openai:gpt-4o-mini"),
        (Gpt_o3_Mini, Providers.OPENAI, "openai:o3-mini"),
        (Claude35Haiku, Providers.ANTHROPIC, "anthropic:claude-3-5-haiku-latest"),
        (Gemini25FlashPreview, Providers.OPENROUTER, "openrouter:google/gemini-2.5-flash"),
        (Grok3Mini, Providers.OPENROUTER, "openrouter:x-ai/grok-3-mini"),
    ],
)
def test_seed_presets(preset: type[Model], provider: Providers, expected: str) -> None:
    model = preset(provider)  # type: ignore[call-arg]
    assert isinstance(model, InstrumentedModel) and isinstance(model.wrapped, ProviderModel)
    assert model.model_string == expected


def test_a_preset_through_a_provider_that_lacks_it() -> None:
    with pytest.raises(UnknownModelError, match="Providers.ANTHROPIC"):
        Claude35Haiku(Providers.XAI)


def test_seed_import_path_for_providers() -> None:
    from llmgine.providers import Providers as FromProviders

    assert FromProviders is Providers
    assert Providers.OPENAI.value == "openai"


def test_thinking_settings_in_the_model_string() -> None:
    model = get_model("anthropic:claude-sonnet-4-5?thinking=4096")
    assert isinstance(model.wrapped, AnthropicModel) and model.name == "claude-sonnet-4-5"
    assert model.defaults["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert get_model("anthropic:claude-opus-4-6?thinking=adaptive").defaults["thinking"] == {
        "type": "adaptive"
    }
    effort = get_model("openai:o4-mini?reasoning_effort=high")
    assert effort.name == "o4-mini" and effort.defaults == {"reasoning_effort": "high"}
    # A keyword setting wins over the string's.
    assert get_model("anthropic:claude-x?thinking=1024", thinking=2048).defaults["thinking"] == {
        "type": "enabled",
        "budget_tokens": 2048,
    }


def test_a_question_mark_that_is_not_an_option_is_left_alone() -> None:
    model = get_model("openai-compatible:my-model@http://localhost:8000/v1?key=value")
    assert model.name == "my-model"
    assert model.base_url == "http://localhost:8000/v1?key=value"


def test_a_bad_thinking_setting_fails_at_construction() -> None:
    from llmgine.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="anthropic:claude-x: thinking='banana'"):
        get_model("anthropic:claude-x?thinking=banana")


def test_a_wire_model_refuses_a_provider_of_the_other_wire() -> None:
    from llmgine.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="use get_model"):
        OpenAIChatModel("anthropic", "claude-haiku-4-5")
