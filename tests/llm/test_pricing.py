import pytest

from llmgine.llm.pricing import cost_usd, price_for
from llmgine.llm.response import Usage


def test_exact_and_dated_model_ids_are_priced() -> None:
    exact = price_for("openai", "gpt-4.1-mini")
    assert exact is not None and exact.input == 0.40
    assert price_for("openai", "gpt-4.1-mini-2025-04-14") == exact
    # the longest matching key wins: gpt-4.1-mini is not priced as gpt-4.1
    assert price_for("openai", "gpt-4.1-2025-04-14") == price_for("openai", "gpt-4.1")
    assert price_for("openai", "gpt-4.1-2025-04-14") != exact


def test_unknown_models_have_no_price() -> None:
    assert price_for("openai", "my-finetune") is None
    assert cost_usd("ollama", "llama3.2", Usage(prompt_tokens=10, completion_tokens=5)) is None


def test_cost_counts_cached_input_at_its_own_rate() -> None:
    usage = Usage(prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=100_000)
    cost = cost_usd("openai", "gpt-4.1-mini", usage)
    assert cost == pytest.approx(600_000 * 0.40e-6 + 400_000 * 0.10e-6 + 100_000 * 1.60e-6)


def test_usage_adds_up() -> None:
    total = Usage(1, 2, 0, 0) + Usage(10, 20, 3, 4)
    assert total == Usage(
        prompt_tokens=11, completion_tokens=22, reasoning_tokens=3, cached_tokens=4, total_tokens=33
    )
