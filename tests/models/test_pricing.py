import pytest

from llmgine.models.pricing import Price, cost_usd, price_for
from llmgine.models.response import Usage


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
    total = Usage(1, 2, 0, 0) + Usage(10, 20, 3, 4, cache_write_tokens=5, cache_write_1h_tokens=2)
    assert total == Usage(
        prompt_tokens=11,
        completion_tokens=22,
        reasoning_tokens=3,
        cached_tokens=4,
        total_tokens=33,
        cache_write_tokens=5,
        cache_write_1h_tokens=2,
    )
    assert total.cache_write_5m_tokens == 3 and total.cache_read_tokens == 4


def test_cache_writes_are_billed_at_the_write_rates() -> None:
    # 1M prompt tokens: 200k fresh, 300k cache reads, 500k cache writes of which 100k for 1h.
    usage = Usage(
        prompt_tokens=1_000_000,
        cached_tokens=300_000,
        cache_write_tokens=500_000,
        cache_write_1h_tokens=100_000,
        completion_tokens=10_000,
    )
    price = price_for("anthropic", "claude-haiku-4-5")
    assert price is not None
    assert price.cache_write_rate == pytest.approx(1.25) and price.cache_write_1h_rate == 2.0
    expected = 200_000 * 1.00 + 300_000 * 0.10 + 400_000 * 1.25 + 100_000 * 2.00 + 10_000 * 5.00
    assert cost_usd("anthropic", "claude-haiku-4-5", usage) == pytest.approx(expected / 1e6)


def test_counts_beyond_the_prompt_are_capped() -> None:
    usage = Usage(prompt_tokens=100, cached_tokens=80, cache_write_tokens=80)
    # 80 reads, then only 20 tokens are left to be writes; none are fresh.
    expected = 80 * 0.10 + 20 * 1.25
    assert cost_usd("anthropic", "claude-haiku-4-5", usage) == pytest.approx(expected / 1e6)


def test_an_entry_may_name_its_own_write_rates() -> None:
    price = Price(input=1.0, output=2.0, cache_write=1.1, cache_write_1h=1.7)
    assert (price.cache_write_rate, price.cache_write_1h_rate, price.cache_read_rate) == (
        1.1,
        1.7,
        1.0,
    )
