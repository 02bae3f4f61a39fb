"""Structured output through ``instructor``, shared by the providers.

Instructor forces a tool named after the response model and validates its
arguments; an answer that does not validate is sent back with the errors, up
to ``max_retries`` more times. Every raw answer is collected through an
instructor hook, with its own usage (instructor overwrites each answer's usage
with a running total), so the returned :class:`LLMResponse` reports the usage
of all attempts. ``create_with_completion`` is not used: it reads the answer
off the returned value, which fails for plain types such as ``int``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from llmgine.errors import ProviderResponseError, StructuredOutputError
from llmgine.models.response import LLMResponse, Usage
from llmgine.models.sdk_errors import map_sdk_error

__all__ = ["instructor_create", "structured_error"]

T = TypeVar("T")


def structured_error(
    exc: Exception, sdk: Any, provider: str, model: str, response_model: Any
) -> Exception:
    """The LLMgine error for an instructor failure: the SDK error inside it, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sdk.APIError):
            return map_sdk_error(current, sdk, provider, model)
        nested = getattr(current, "last_exception", None) or getattr(
            current, "failed_attempts", None
        )
        if isinstance(nested, list) and nested:
            nested = getattr(nested[-1], "exception", None)
        current = (
            nested
            if isinstance(nested, BaseException)
            else (current.__cause__ or current.__context__)
        )
    name = getattr(response_model, "__name__", str(response_model))
    return StructuredOutputError(
        f"no valid {name} from the model: {exc}", provider=provider, model=model
    )


async def instructor_create(
    client: Any,
    *,
    sdk: Any,
    provider: str,
    model: str,
    response_model: type[T],
    messages: Any,
    max_retries: int,
    params: dict[str, Any],
    parse: Callable[[Any], LLMResponse],
    usage_of: Callable[[Any], Usage],
) -> tuple[T, LLMResponse]:
    """Call ``client.create`` (an instructor client) and return the value and last answer.

    Args:
        client: ``instructor.from_openai(...)`` or ``from_anthropic(...)``.
        sdk: The SDK module, for error mapping.
        provider: Provider name.
        model: Model id.
        response_model: The type to validate.
        messages: Messages in the SDK's format.
        max_retries: Re-asks after the first answer (instructor's meaning).
        params: Other ``create`` parameters.
        parse: Raw answer -> LLMResponse.
        usage_of: Raw answer's usage -> Usage.
    """
    import instructor

    answers: list[Any] = []
    usages: list[Usage] = []

    def answered(answer: Any) -> None:
        answers.append(answer)
        usages.append(usage_of(getattr(answer, "usage", None)))

    hooks = instructor.hooks.Hooks()
    hooks.on("completion:response", answered)
    try:
        value = await client.create(
            response_model=response_model,
            messages=messages,
            max_retries=max_retries,
            hooks=hooks,
            **params,
        )
    except Exception as exc:
        raise structured_error(exc, sdk, provider, model, response_model) from exc
    if not answers:  # pragma: no cover - instructor always calls the API first
        raise ProviderResponseError("instructor returned no answer", provider=provider, model=model)
    response = parse(answers[-1])
    response.usage = sum(usages, Usage())
    # The answers instructor sent back for repair (its own reasons are not exposed).
    response.validation_retries = [
        {"content": parse(answer).content or _arguments(answer), "error": "did not validate"}
        for answer in answers[:-1]
    ]
    return value, response


def _arguments(answer: Any) -> str:
    """The arguments of a structured answer's tool call (where instructor puts the value)."""
    choices = getattr(answer, "choices", None)
    if choices:
        calls = getattr(choices[0].message, "tool_calls", None) or []
        return str(calls[0].function.arguments) if calls else ""
    for block in getattr(answer, "content", None) or []:
        if getattr(block, "type", None) == "tool_use":
            return json.dumps(block.input, ensure_ascii=False, default=str)
    return ""
