"""Which models answer: one tiny request to each, in parallel, each within a timeout.

The orchestrator seed's availability check: ``check_models(["openai:gpt-4.1-mini",
"anthropic:claude-haiku-4-5"])`` asks each model for one word and says which
answered, how fast, and why the others did not. One attempt each, no retries,
no events: it is a probe, not a conversation.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmgine.errors import LLMgineError
from llmgine.models.instrumented import InstrumentedModel
from llmgine.models.interface import Model
from llmgine.models.registry import get_model
from llmgine.models.request import build_request

__all__ = ["PROBE_PROMPT", "Availability", "check_model", "check_models"]

#: What each model is asked.
PROBE_PROMPT = "Reply with the single word: yes"


@dataclass(frozen=True)
class Availability:
    """Whether one model answered the probe.

    Attributes:
        model: ``"provider:model"``.
        ok: It answered.
        seconds: How long it took (or how long was waited).
        answer: Its answer (when it answered).
        error: Why it did not (one line).
        error_type: The error's class name (``"ProviderAuthError"``, ``"timeout"``...).
    """

    model: str
    ok: bool
    seconds: float
    answer: str | None = None
    error: str | None = None
    error_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "model": self.model,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "answer": self.answer,
            "error": self.error,
            "error_type": self.error_type,
        }


async def check_model(
    model: Model | str,
    timeout: float = 20.0,  # noqa: ASYNC109 - the model's own limit, a result when exceeded
) -> Availability:
    """Send the probe to ``model`` once; never raises for a model that cannot answer."""
    name = model if isinstance(model, str) else model.model_string
    try:
        resolved = get_model(model)
    except LLMgineError as exc:
        return Availability(name, False, 0.0, error=str(exc), error_type=type(exc).__name__)
    wire = resolved.wrapped if isinstance(resolved, InstrumentedModel) else resolved
    sdk = getattr(wire, "provider_module", None)
    if sdk:  # importing the SDK (seconds on a slow machine) is not the model's time
        importlib.import_module(sdk)
    started = time.monotonic()
    request = build_request(wire.name, PROBE_PROMPT, max_completion_tokens=16, timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            response = await wire.request(request)
    except TimeoutError:
        took = time.monotonic() - started
        error = f"no answer within {timeout:g} s"
        return Availability(wire.model_string, False, took, error=error, error_type="timeout")
    except Exception as exc:  # any failure is this model's result, not the check's
        error = str(exc) or type(exc).__name__
        took = time.monotonic() - started
        return Availability(
            wire.model_string, False, took, error=error, error_type=type(exc).__name__
        )
    finally:
        await wire.aclose()
    answer = " ".join((response.content or "").split())
    return Availability(wire.model_string, True, time.monotonic() - started, answer=answer)


async def check_models(
    models: Sequence[Model | str],
    timeout: float = 20.0,  # noqa: ASYNC109 - a limit per model, not for the whole check
) -> list[Availability]:
    """:func:`check_model` for every model at once; results in the order given."""
    return list(await asyncio.gather(*(check_model(model, timeout) for model in models)))
