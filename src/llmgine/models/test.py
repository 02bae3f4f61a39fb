"""The offline :class:`TestModel`: deterministic, exact, driven by the tools' schemas.

Re-exported by :mod:`llmgine.testing`, where tests find it; ``get_model("test")``
returns it (instrumented).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from llmgine.errors import StructuredOutputError
from llmgine.models.offline import OfflineModel, chosen_tool_name, current_turn
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, content_text
from llmgine.models.retry import RetryPolicy
from llmgine.models.schema_values import sample_value
from llmgine.tools.tool_call import ToolCall

__all__ = ["TestModel"]

T = TypeVar("T")


class TestModel(OfflineModel):
    """A deterministic offline model that exercises tools and structured output.

    * Offered tools (and no tool results yet since the last user message), it
      calls each tool once, with arguments built from the tool's JSON schema:
      ``"a"`` for strings, the first ``enum`` value, ``const``, ``0`` or the
      minimum for numbers, ``false``, one-item arrays (or ``minItems``),
      required properties of objects, the first non-null ``anyOf`` option and
      ``default`` values where given. Ids are ``call_test_1``, ``call_test_2``...
      (numbered across the conversation); finish reason ``"tool_calls"``.
    * Once tool results follow the last user message, it sums them up:
      ``"Tool results: get_weather: 17 °C; get_time: 12:00"``.
    * Otherwise it answers ``text`` (or a fixed sentence); with a
      ``response_format`` JSON schema, a JSON value valid for it.
    * ``generate(..., response_model=X)`` returns a valid ``X`` built the same way.

    Usage is estimated from word counts; the cost is 0.

    Args:
        text: The answer when there is nothing else to say (default: a sentence
            explaining that this is the offline model).
        call_tools: ``True`` calls every tool offered, ``False`` none, a list
            of names only those. A ``tool_choice`` naming one tool calls it;
            ``tool_choice="none"`` calls none.
        latency: Seconds to wait before each answer (simulated latency). When
            it exceeds ``timeout``, the call fails with
            :class:`~llmgine.errors.ProviderTimeoutError` after ``timeout`` seconds.
        seed: Varies the generated values (``seed=1`` gives ``"b"`` and ``1``
            where ``seed=0`` gives ``"a"`` and ``0``).
        name: The model id reported in responses and events.
        retry: Retry policy (see :class:`~llmgine.models.retry.RetryPolicy`).
        timeout: Seconds per attempt.

    Example:
        >>> import asyncio
        >>> asyncio.run(TestModel(text="hi").generate("hello")).content
        'hi'
    """

    __test__ = False  # not a pytest test class, whatever its name
    provider = "test"

    #: The answer when there are no tools to call and no ``text`` was given.
    DEFAULT_TEXT: ClassVar[str] = (
        "This is a reply from the offline TestModel; set an API key or choose a model "
        "with --model to talk to a real one."
    )

    def __init__(
        self,
        *,
        text: str | None = None,
        call_tools: bool | Sequence[str] = True,
        latency: float = 0.0,
        seed: int = 0,
        name: str = "test",
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name=name, latency=latency, retry=retry, timeout=timeout)
        if isinstance(call_tools, str):
            raise TypeError("call_tools must be True, False or a list of tool names")
        self.text = text
        self.call_tools: bool | list[str] = (
            call_tools if isinstance(call_tools, bool) else list(call_tools)
        )
        self.seed = seed

    def _tools_to_call(self, request: LLMRequest) -> list[dict[str, Any]]:
        tools = [tool.get("function", tool) for tool in request.tools or []]
        if request.tool_choice == "none":
            return []
        forced = chosen_tool_name(request.tool_choice)
        if forced is not None:
            return [tool for tool in tools if tool.get("name") == forced]
        if self.call_tools is True:
            return tools
        if self.call_tools is False:
            return []
        return [tool for tool in tools if tool.get("name") in self.call_tools]

    def _tool_call(self, tool: dict[str, Any], number: int) -> ToolCall:
        name = str(tool.get("name", ""))
        schema = tool.get("parameters") or {"type": "object", "properties": {}}
        try:
            arguments = sample_value(schema, self.seed)
        except ValueError as exc:
            raise ValueError(f"TestModel cannot build arguments for tool {name!r}: {exc}") from exc
        if not isinstance(arguments, dict):
            arguments = {}
        return ToolCall(
            id=f"call_test_{number}",
            name=name,
            arguments=json.dumps(arguments, ensure_ascii=False),
        )

    @staticmethod
    def _summary(messages: Sequence[dict[str, Any]], results: list[dict[str, Any]]) -> str:
        names: dict[str, str] = {}
        for message in messages:
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    function = call.get("function", call)
                    names[str(call.get("id"))] = str(function.get("name", "tool"))
        parts = []
        for result in results:
            name = result.get("name") or names.get(str(result.get("tool_call_id")), "tool")
            parts.append(f"{name}: {content_text(result.get('content')).strip()}")
        return "Tool results: " + "; ".join(parts)

    def _json_answer(self, response_format: Any) -> str | None:
        if not isinstance(response_format, dict):
            return None
        if response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
            return json.dumps(sample_value(schema, self.seed), ensure_ascii=False)
        if response_format.get("type") == "json_object":
            return "{}"
        return None

    async def request(self, request: LLMRequest) -> LLMResponse:
        """Tool calls for the offered tools, a summary of their results, or its text."""
        await self._wait(request)
        messages = request.messages
        turn = current_turn(messages)
        results = [message for message in turn if message.get("role") == "tool"]
        tools = self._tools_to_call(request)
        if tools and not results:
            earlier = sum(
                len(message.get("tool_calls") or [])
                for message in messages
                if message.get("role") == "assistant"
            )
            calls = [self._tool_call(tool, earlier + n) for n, tool in enumerate(tools, 1)]
            return self._response(request, tool_calls=calls)
        content = self._json_answer(request.response_format)
        if content is None:
            if results:
                content = self._summary(messages, results)
            else:
                content = self.text if self.text is not None else self.DEFAULT_TEXT
        return self._response(request, content=content)

    async def request_structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """Build a valid ``response_model`` instance from its JSON schema (no repair loop)."""
        from pydantic import TypeAdapter, ValidationError

        type_name = getattr(response_model, "__name__", str(response_model))
        adapter: TypeAdapter[T] = TypeAdapter(response_model)
        await self._wait(request)
        try:
            text = json.dumps(sample_value(adapter.json_schema(), self.seed), ensure_ascii=False)
            value = adapter.validate_json(text)
        except (ValueError, ValidationError) as exc:
            # ValidationError is a ValueError; both mean the schema beat the generator.
            raise StructuredOutputError(
                f"TestModel could not build a valid {type_name}: {exc}",
                provider=self.provider,
                model=self.name,
            ) from exc
        return value, self._response(request, content=text)
