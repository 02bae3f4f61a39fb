"""What every model returns: one response type, its usage, and stream chunks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from llmgine.tools.tool_call import ToolCall

__all__ = [
    "LLMResponse",
    "RedactedThinkingPart",
    "StreamChunk",
    "TextDelta",
    "ThinkingBlock",
    "ThinkingDelta",
    "ThinkingPart",
    "ToolCallDelta",
    "Usage",
    "content_text",
    "stream_of",
    "thinking_blocks_from_dicts",
]


@dataclass
class Usage:
    """Token counts of one call (or a sum of calls: ``a + b``).

    ``prompt_tokens`` counts every input token: fresh ones, cache reads
    (``cached_tokens``) and cache writes (``cache_write_tokens``); pricing
    bills each part at its own rate.

    Attributes:
        prompt_tokens: Input tokens, cache reads and writes included.
        completion_tokens: Output tokens, reasoning ones included.
        reasoning_tokens: Output tokens spent on thinking / hidden reasoning.
        cached_tokens: Input tokens read from the provider's prompt cache.
        cache_write_tokens: Input tokens written to the prompt cache (all lifetimes).
        cache_write_1h_tokens: The part of ``cache_write_tokens`` cached for one
            hour (Anthropic's ``ephemeral_1h_input_tokens``); the rest is
            cached for five minutes.
        total_tokens: Input plus output.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0

    def __post_init__(self) -> None:
        if not self.total_tokens:
            self.total_tokens = self.prompt_tokens + self.completion_tokens

    @property
    def cache_read_tokens(self) -> int:
        """Input tokens read from the prompt cache (``cached_tokens``)."""
        return self.cached_tokens

    @property
    def cache_write_5m_tokens(self) -> int:
        """The part of ``cache_write_tokens`` cached for five minutes."""
        return max(0, self.cache_write_tokens - self.cache_write_1h_tokens)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )


@dataclass
class ThinkingPart:
    """A block of the model's visible reasoning (Anthropic's ``thinking`` block).

    Attributes:
        text: The reasoning text (may be empty: some models sign an empty block).
        signature: Anthropic's signature of the block; it must be sent back
            unchanged with the block. None for providers that sign nothing
            (DeepSeek's ``reasoning_content``, ...).
    """

    text: str = ""
    signature: str | None = None
    type: Literal["thinking"] = "thinking"

    def to_dict(self) -> dict[str, Any]:
        """The block as Anthropic writes it: ``{"type": "thinking", "thinking", "signature"}``."""
        block: dict[str, Any] = {"type": "thinking", "thinking": self.text}
        if self.signature is not None:
            block["signature"] = self.signature
        return block


@dataclass
class RedactedThinkingPart:
    """Reasoning the provider returned encrypted (Anthropic's ``redacted_thinking``).

    Attributes:
        data: The opaque encrypted reasoning; sent back unchanged.
    """

    data: str = ""
    type: Literal["redacted_thinking"] = "redacted_thinking"

    def to_dict(self) -> dict[str, Any]:
        """The block as Anthropic writes it: ``{"type": "redacted_thinking", "data"}``."""
        return {"type": "redacted_thinking", "data": self.data}


#: A thinking block of an answer, in the order the model produced it.
ThinkingBlock = ThinkingPart | RedactedThinkingPart


def thinking_blocks_from_dicts(blocks: Iterable[Any]) -> list[ThinkingBlock]:
    """Typed thinking blocks from their dict form (``message["thinking_blocks"]``).

    Dicts of other types are left out.
    """
    parts: list[ThinkingBlock] = []
    for block in blocks or []:
        if isinstance(block, ThinkingPart | RedactedThinkingPart):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "thinking":
            parts.append(ThinkingPart(block.get("thinking") or "", block.get("signature")))
        elif isinstance(block, dict) and block.get("type") == "redacted_thinking":
            parts.append(RedactedThinkingPart(block.get("data") or ""))
    return parts


@dataclass
class LLMResponse:
    """One model answer, whatever the provider.

    Attributes:
        content: The text of the answer (None when the model only called tools).
        tool_calls: Tool calls the model asked for, in order.
        thinking_blocks: The model's thinking and redacted-thinking blocks, in
            order, signatures and data kept (see :attr:`thinking` for the text).
        finish_reason: Why it stopped: ``"stop"``, ``"tool_calls"``, ``"length"``,
            ``"content_filter"`` (Anthropic's reasons are mapped onto these).
        usage: Token counts.
        cost_usd: Price of the call, when the model's price is known.
        model: Model id that answered.
        provider: Provider name.
        raw: The provider's own response object (not logged).
        type: Stream chunk tag: the response is the last chunk of a stream.
        validation_retries: For structured output: the answers that did not
            validate before this one, each ``{"content": ..., "error": ...}``.
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
    thinking_blocks: list[ThinkingBlock] = field(default_factory=list)
    validation_retries: list[dict[str, str]] = field(default_factory=list)

    @property
    def thinking(self) -> str | None:
        """The text of the thinking blocks, joined by blank lines (None when there are none)."""
        texts = [part.text for part in self.thinking_blocks if isinstance(part, ThinkingPart)]
        if not texts:
            return None
        return "\n\n".join(text for text in texts if text)

    def to_message(self) -> dict[str, Any]:
        """The answer as an OpenAI-format assistant message, ready for the context.

        Thinking blocks travel in ``thinking_blocks`` (Anthropic's dict form,
        signatures included): the Anthropic provider sends them back unchanged,
        the OpenAI wire leaves them out.
        """
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.thinking_blocks:
            message["thinking_blocks"] = [part.to_dict() for part in self.thinking_blocks]
        return message


@dataclass
class TextDelta:
    """A piece of answer text, as it streams in."""

    text: str
    type: Literal["text_delta"] = "text_delta"


@dataclass
class ThinkingDelta:
    """A piece of the model's thinking text, as it streams in (shown apart from the answer)."""

    text: str
    type: Literal["thinking_delta"] = "thinking_delta"


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
StreamChunk = TextDelta | ThinkingDelta | ToolCallDelta | LLMResponse


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


def stream_of(
    response: LLMResponse, deltas: list[TextDelta | ThinkingDelta] | None = None
) -> list[StreamChunk]:
    """A whole answer as the chunks of a stream: its deltas, its tool calls, itself last.

    Args:
        response: The answer.
        deltas: The text and thinking pieces, as they came (None: one delta
            per part, as from a model that does not stream).
    """
    chunks: list[StreamChunk] = []
    if deltas is not None:
        chunks.extend(deltas)
    else:
        if response.thinking:
            chunks.append(ThinkingDelta(response.thinking))
        if response.content:
            chunks.append(TextDelta(response.content))
    for index, call in enumerate(response.tool_calls):
        chunks.append(ToolCallDelta(index, id=call.id, name=call.name, arguments=call.arguments))
    chunks.append(response)
    return chunks
