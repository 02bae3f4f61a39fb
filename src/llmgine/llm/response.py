"""What every model returns: one response type, its usage, and stream chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from llmgine.tools.tool_call import ToolCall

__all__ = ["LLMResponse", "StreamChunk", "TextDelta", "ToolCallDelta", "Usage", "content_text"]


@dataclass
class Usage:
    """Token counts of one call (or a sum of calls: ``a + b``).

    Attributes:
        prompt_tokens: Input tokens, cached ones included.
        completion_tokens: Output tokens, reasoning ones included.
        reasoning_tokens: Output tokens spent on hidden reasoning.
        cached_tokens: Input tokens served from the provider's prompt cache.
        total_tokens: Input plus output.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0

    def __post_init__(self) -> None:
        if not self.total_tokens:
            self.total_tokens = self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


@dataclass
class LLMResponse:
    """One model answer, whatever the provider.

    Attributes:
        content: The text of the answer (None when the model only called tools).
        tool_calls: Tool calls the model asked for, in order.
        finish_reason: Why it stopped: ``"stop"``, ``"tool_calls"``, ``"length"``,
            ``"content_filter"`` (Anthropic's reasons are mapped onto these).
        usage: Token counts.
        cost_usd: Price of the call, when the model's price is known.
        model: Model id that answered.
        provider: Provider name.
        raw: The provider's own response object (not logged).
        type: Stream chunk tag: the response is the last chunk of a stream.
    """

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    model: str = ""
    provider: str = ""
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["response"] = "response"

    def to_message(self) -> dict[str, Any]:
        """The answer as an OpenAI-format assistant message, ready for the context."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        return message


@dataclass
class TextDelta:
    """A piece of answer text, as it streams in."""

    text: str
    type: Literal["text_delta"] = "text_delta"


@dataclass
class ToolCallDelta:
    """A piece of a tool call, as it streams in.

    Attributes:
        index: Which call of the answer this belongs to (0, 1, ...).
        id: The call's id (on its first piece).
        name: The tool's name (on its first piece).
        arguments: The next characters of the JSON arguments.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    type: Literal["tool_call_delta"] = "tool_call_delta"


#: What ``model.stream()`` yields: deltas, then the complete :class:`LLMResponse`.
StreamChunk = TextDelta | ToolCallDelta | LLMResponse


def content_text(content: Any, sep: str = " ") -> str:
    """The text of a message's ``content``: a string, or a list of content parts.

    Text parts (strings, ``{"type": "text", "text": ...}`` dicts, or SDK objects
    with ``type == "text"``) are joined with ``sep``; other parts (images...)
    are left out. ``None`` is ``""``; anything else is ``str()``-ed.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
                continue
            get = part.get if isinstance(part, dict) else lambda key, p=part: getattr(p, key, None)
            text = get("text")
            if isinstance(text, str) and get("type") in ("text", None):
                texts.append(text)
        return sep.join(text for text in texts if text)
    return str(content)
