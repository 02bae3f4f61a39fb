import pytest

from llmgine.models.retry import NO_RETRY, RetryPolicy


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]


def test_jitter_stays_within_its_bounds() -> None:
    policy = RetryPolicy(initial_delay=1, jitter=0.25)
    delays = [policy.delay(1) for _ in range(200)]
    assert all(0.75 <= d <= 1.25 for d in delays)
    assert len(set(delays)) > 1


def test_retry_after_wins_when_longer() -> None:
    policy = RetryPolicy(initial_delay=0.5, jitter=0)
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=0.1) == pytest.approx(0.5)


def test_no_retry_policy() -> None:
    assert NO_RETRY.max_attempts == 1
