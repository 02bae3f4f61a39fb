"""The offline demo model: what the CLI talks to when no API key is set.

It is not a language model, and says so: every answer starts with
``[offline demo]``. It reads the user's own words to decide which of the
offered tools to call and with which arguments ("weather in Perth" calls
``get_weather(city="Perth")``), then reports what the tools returned. That is
enough to see the whole machinery (tool calls, tool panels, streaming, the
event log) work on a fresh machine. Tests use the exact, schema-driven
:class:`~llmgine.testing.TestModel` instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from llmgine.models.offline import OfflineModel, chosen_tool_name, current_turn
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, content_text
from llmgine.models.retry import RetryPolicy
from llmgine.models.schema_values import sample_value
from llmgine.tools.tool_call import ToolCall

__all__ = ["DemoModel"]

#: Every answer of the demo model starts with this.
LABEL = "[offline demo]"

_STOP_WORDS = frozenset(
    "the and for get set what whats how are you your with from that this there have has "
    "can could would should please tell give show about into like does any some".split()
)
# Parameter names (and description words) that ask for a place.
_PLACE_WORDS = frozenset({"city", "location", "place", "town", "country", "region", "where"})
_PREPOSITIONS = r"(?:in|for|at|near|around|of|to|from)"
# "in Perth", "for New York": capitalised words after a preposition.
_CAPITALISED_PLACE = re.compile(
    rf"\b{_PREPOSITIONS}\s+([A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|del|la|le|upon|on))*)"
)
_PREPOSITION = re.compile(rf"\b{_PREPOSITIONS}\s+", re.IGNORECASE)
# Words that end a lower-case place name ("in perth today").
_NOT_PLACE = frozenset(
    "today tomorrow tonight now right this next week weekend please the a an and or "
    "celsius fahrenheit days day me us you him her them it my our".split()
)
_QUOTED = re.compile(r"[\"“«]([^\"”»]{1,200})[\"”»]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _words(text: str) -> set[str]:
    """Lower-case content words of ``text``, plurals folded (``forecasts`` -> ``forecast``)."""
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.lower().replace("_", " ")):
        if len(word) < 3 or word in _STOP_WORDS:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


def _user_text(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content")).strip()
    return ""


def _place(text: str) -> str | None:
    """The place a message names: "in Perth", "for new york", else None."""
    found = _CAPITALISED_PLACE.search(text)
    if found:
        return found.group(1).rstrip(".'’-")
    for match in _PREPOSITION.finditer(text):
        words: list[str] = []
        for word in text[match.end() :].split()[:3]:
            cleaned = word.strip(".,!?;:\"'’")
            if not cleaned or not cleaned[0].isalpha() or cleaned.lower() in _NOT_PLACE:
                break
            words.append(cleaned)
            if word[-1] in ".,!?;:":  # punctuation ends the name
                break
        if words:
            return " ".join(word.capitalize() for word in words)
    return None


def _options(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null alternative of an ``Optional[...]`` schema, else the schema itself."""
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key) or [] if s.get("type") != "null"]
        if options:
            return {**options[0], **{k: v for k, v in schema.items() if k != key}}
    return schema


class _Missing:
    pass


_MISSING = _Missing()


def _value(name: str, schema: dict[str, Any], text: str, required: bool) -> Any:
    """A value for one parameter taken from the user's words, or ``_MISSING``.

    The whole message stands in only for a required string: an optional one
    keeps its default unless the message quotes something.
    """
    schema = _options(schema)
    lowered = text.lower()
    if "enum" in schema:
        for option in schema["enum"]:
            if isinstance(option, str) and re.search(rf"\b{re.escape(option.lower())}\b", lowered):
                return option
        return _MISSING
    kind = schema.get("type")
    if kind == "string":
        hint = _words(f"{name} {schema.get('description', '')}")
        if hint & _PLACE_WORDS:
            place = _place(text)
            return place if place else _MISSING
        quoted = _QUOTED.search(text)
        if quoted:
            return quoted.group(1)
        return text if required and text else _MISSING
    if kind in ("integer", "number"):
        found = _NUMBER.search(text)
        if not found:
            return _MISSING
        number: float = float(found.group())
        if "minimum" in schema:
            number = max(number, schema["minimum"])
        if "maximum" in schema:
            number = min(number, schema["maximum"])
        return int(number) if kind == "integer" else number
    return _MISSING


class DemoModel(OfflineModel):
    """An offline stand-in that picks tools and arguments from the user's words.

    * Offered tools, it calls the ones whose names the message mentions (or,
      failing that, whose description it matches best), with arguments read
      from the message: a place after "in"/"for"/"at" for a city or location,
      an enum value the message names, the first number, quoted text, else the
      message itself for a required string. Optional parameters it finds no
      words for are left to their defaults.
    * A tool that needs a place the message does not name is not called: the
      answer asks for one.
    * Once tool results are in, it reports them.
    * Otherwise it says what it is and how to talk to a real model.

    Every text answer starts with ``[offline demo]``; structured-output
    requests get a valid JSON value for their schema.

    Args:
        name: The model id in responses and events.
        latency: Seconds to wait before each answer.
        retry: Retry policy.
        timeout: Seconds per attempt.
    """

    provider = "demo"

    def __init__(
        self,
        *,
        name: str = "demo",
        latency: float = 0.0,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name=name, latency=latency, retry=retry, timeout=timeout)

    async def request(self, request: LLMRequest) -> LLMResponse:
        """Tool calls read from the user's words, a report of tool results, or what it is."""
        await self._wait(request)
        json_answer = _json_answer(request.response_format)
        if json_answer is not None:
            return self._response(request, content=json_answer)
        messages = request.messages
        turn = current_turn(messages)
        results = [message for message in turn if message.get("role") == "tool"]
        if results:
            return self._response(request, content=f"{LABEL} {_report(messages, results)}")
        text = _user_text(messages)
        tools = self._chosen_tools(request, text)
        calls: list[ToolCall] = []
        missing: list[str] = []
        earlier = sum(len(m.get("tool_calls") or []) for m in messages)
        for tool in tools:
            arguments = _arguments(tool.get("parameters") or {}, text)
            if arguments is None:
                missing.append(str(tool.get("name")))
                continue
            calls.append(
                ToolCall(
                    id=f"call_demo_{earlier + len(calls) + 1}",
                    name=str(tool.get("name", "")),
                    arguments=json.dumps(arguments, ensure_ascii=False),
                )
            )
        if calls:
            return self._response(request, tool_calls=calls)
        if missing:
            content = (
                f"{LABEL} To run {', '.join(missing)} I need a place: say it after "
                '"in" or "for", e.g. "What\'s the weather in Perth?".'
            )
        else:
            content = f"{LABEL} {_introduction(request, text)}"
        return self._response(request, content=content)

    @staticmethod
    def _chosen_tools(request: LLMRequest, text: str) -> list[dict[str, Any]]:
        tools = [tool.get("function", tool) for tool in request.tools or []]
        if not tools or request.tool_choice == "none":
            return []
        forced = chosen_tool_name(request.tool_choice)
        if forced is not None:
            return [tool for tool in tools if tool.get("name") == forced]
        said = _words(text)
        named = [tool for tool in tools if _words(str(tool.get("name", ""))) & said]
        if named:
            return named
        scores = [(len(_words(str(tool.get("description", ""))) & said), tool) for tool in tools]
        best = max(score for score, _ in scores)
        return [tool for score, tool in scores if score == best] if best >= 2 else []


def _arguments(schema: dict[str, Any], text: str) -> dict[str, Any] | None:
    """Arguments from the user's words; None when a required place is not named."""
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    arguments: dict[str, Any] = {}
    for name, prop in properties.items():
        value = _value(name, prop if isinstance(prop, dict) else {}, text, name in required)
        if value is not _MISSING:
            arguments[name] = value
            continue
        if name not in required:
            continue
        hint = _words(f"{name} {prop.get('description', '') if isinstance(prop, dict) else ''}")
        if hint & _PLACE_WORDS:
            return None
        arguments[name] = sample_value(prop)
    return arguments


def _json_answer(response_format: Any) -> str | None:
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
        return json.dumps(sample_value(schema), ensure_ascii=False)
    if response_format.get("type") == "json_object":
        return "{}"
    return None


def _report(messages: Sequence[dict[str, Any]], results: list[dict[str, Any]]) -> str:
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict):
                names[str(call.get("id"))] = str(call.get("function", call).get("name", "tool"))
    lines = []
    for result in results:
        name = result.get("name") or names.get(str(result.get("tool_call_id")), "tool")
        lines.append((name, _readable(content_text(result.get("content")).strip())))
    if len(lines) == 1:
        name, text = lines[0]
        return f"{name} says: {text}"
    return "The tools said:\n" + "\n".join(f"- {name}: {text}" for name, text in lines)


def _readable(text: str) -> str:
    """A tool result for a sentence: a JSON list becomes its items joined by "; "."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, list):
        return "; ".join(item if isinstance(item, str) else json.dumps(item) for item in value)
    return text


def _introduction(request: LLMRequest, text: str) -> str:
    tools = [str(t.get("function", t).get("name", "")) for t in request.tools or []]
    intro = "This answer comes from LLMgine's offline demo model, not from a language model."
    if tools:
        intro += (
            f" It calls a tool when your message names it ({', '.join(tools)}); try "
            '"What\'s the weather in Perth?".'
        )
    elif text:
        intro += f' You said: "{text}".'
    return (
        f"{intro} For real answers set OPENAI_API_KEY or ANTHROPIC_API_KEY (in the "
        "environment or a .env file), or pick a model with --model provider:model."
    )
