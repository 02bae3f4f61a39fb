"""The arbiter's prompts, and reading its answer: structured or tagged text.

:func:`member_messages` and :func:`arbiter_messages` build a round's prompts
(the arbiter sees neutral response names and no model names).

:class:`ArbiterVerdict` is the structured answer (validated leniently:
``"85%"`` is a confidence of 0.85). :func:`parse_arbiter_text` reads the
tagged text answer used when structured output fails, ignoring reasoning
sections (``<think>``...); it returns :class:`Unreadable` rather than guess.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError, field_validator

if TYPE_CHECKING:
    from llmgine.engines.consortium.run import MemberAnswer
    from llmgine.models.interface import Model

__all__ = [
    "ARBITER_SYSTEM_PROMPT",
    "FORMAT_INSTRUCTIONS",
    "ArbiterVerdict",
    "Unreadable",
    "arbiter_messages",
    "member_messages",
    "normalise_ranking",
    "parse_arbiter_text",
    "parse_confidence",
]

ARBITER_SYSTEM_PROMPT = (
    "You are the arbiter of a consortium: several assistants answered the same request "
    "independently, and you judge and combine their answers. Compare the responses, check "
    "them for errors, resolve disagreements on the merits (not by majority), and write the "
    "best answer for the user - complete and self-contained, as if it were the only answer "
    'they will read. The responses are named "Response 1", "Response 2"... in a random order; '
    "judge their content only. Say how confident you are (0 to 1) that your synthesis is "
    "correct and complete, where the responses disagree, and whether another round of answers "
    "would improve it (and if so, what should be improved)."
)

FORMAT_INSTRUCTIONS = """Answer in exactly this format, with nothing outside the tags:
<synthesis>the final answer for the user</synthesis>
<confidence>a number from 0 to 1</confidence>
<analysis>how the responses compare: strengths, errors, gaps</analysis>
<dissent>where the responses disagree, and which view you took</dissent>
<needs_iteration>true or false</needs_iteration>
<refinement_areas>what to improve, one per line (empty if nothing)</refinement_areas>
<ranking>the response names, best first, separated by commas</ranking>"""

_TAGS = (
    "synthesis",
    "confidence",
    "analysis",
    "dissent",
    "needs_iteration",
    "refinement_areas",
    "ranking",
)
_REASONING = r"think|thinking|reasoning|reflection|scratchpad"
_CLOSED_REASONING = re.compile(rf"<({_REASONING})\b[^>]*>.*?</\1\s*>", re.S | re.I)
_OPEN_REASONING = re.compile(rf"^\s*<(?:{_REASONING})\b[^>]*>", re.I)
_STRAY_CLOSE = re.compile(rf"</(?:{_REASONING})\s*>", re.I)
_NUMBER = re.compile(
    r"(-?(?:\d+(?:\.\d*)?|\.\d+))\s*(%|percent)?(?:\s*(?:/|out of)\s*(\d+(?:\.\d+)?))?", re.I
)
_RESPONSE_NAME = re.compile(r"response\s*[#_-]?\s*(\d+)", re.I)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S | re.I)


def parse_confidence(value: Any) -> float | None:
    """A confidence in 0..1 from ``0.85``, ``85``, ``"85%"``, ``"0.85"``, ``"8.5/10"``.

    Numbers above 1 are read as percentages; the result is clamped to 0..1.
    None when there is no number (a word, an empty string, a bool).
    """
    percent, scale = False, None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = _NUMBER.search(value)
        if match is None:
            return None
        number = float(match.group(1))
        percent = match.group(2) is not None
        scale = float(match.group(3)) if match.group(3) else None
    else:
        return None
    if math.isnan(number):
        return None
    if percent:
        number /= 100
    elif scale:
        number /= scale
    elif number > 1:
        number /= 100
    return min(1.0, max(0.0, number))


def normalise_ranking(value: Any) -> list[str]:
    """``["Response 2", "Response 1"]`` from a list or text (``"2 > 1"``, ``"Response 2, ..."``)."""
    if value is None:
        return []
    if isinstance(value, str):
        pieces = re.split(r"[,\n;>]+", value)
    elif isinstance(value, Sequence):
        pieces = [str(item) for item in value]
    else:
        return []
    names: list[str] = []
    for piece in pieces:
        match = _RESPONSE_NAME.search(piece) or re.fullmatch(r"\W*(\d+)\W*", piece.strip())
        if match is not None:
            name = f"Response {int(match.group(1))}"
            if name not in names:
                names.append(name)
    return names


def _areas(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        tagged = re.findall(r"<area>(.*?)</area>", value, re.S | re.I)
        lines = tagged or value.splitlines()
    else:
        lines = [str(item) for item in value]
    areas = [_BULLET.sub("", line).strip() for line in lines]
    return [a for a in areas if a and a.lower().rstrip(".") not in {"none", "n/a", "nothing"}]


class ArbiterVerdict(BaseModel):
    """The arbiter's judgement of one round."""

    synthesis: str = Field(
        min_length=1, description="The final answer for the user, complete and self-contained."
    )
    confidence: float = Field(
        description="Confidence from 0 to 1 that the synthesis is correct and complete."
    )
    analysis: str = Field(default="", description="How the responses compare.")
    dissent: str = Field(default="", description="Where the responses disagree.")
    needs_iteration: bool = Field(
        default=False, description="True if another round of answers would clearly help."
    )
    refinement_areas: list[str] = Field(
        default_factory=list, description="What the assistants should improve next round."
    )
    ranking: list[str] = Field(
        default_factory=list,
        description='The response names, best first, e.g. ["Response 2", "Response 1"].',
    )

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence(cls, value: Any) -> float:
        number = parse_confidence(value)
        if number is None:
            raise ValueError(f"confidence must be a number from 0 to 1, got {value!r}")
        return number

    @field_validator("synthesis", mode="after")
    @classmethod
    def _synthesis(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the synthesis is empty")
        return value.strip()

    @field_validator("ranking", mode="before")
    @classmethod
    def _ranking(cls, value: Any) -> list[str]:
        return normalise_ranking(value)

    @field_validator("refinement_areas", mode="before")
    @classmethod
    def _refinement_areas(cls, value: Any) -> list[str]:
        return _areas(value)


@dataclass
class Unreadable:
    """An arbiter answer that could not be read.

    Attributes:
        error: What was missing or wrong (shown to the arbiter in the repair request).
        ranking: A ranking that could still be read from it, if any.
    """

    error: str
    ranking: list[str] = field(default_factory=list)


def strip_reasoning(text: str) -> str:
    """``text`` without ``<think>``/``<reasoning>``... sections."""
    text = _CLOSED_REASONING.sub("", text)
    closes = list(_STRAY_CLOSE.finditer(text))
    if closes:  # reasoning whose opening tag was in the template: keep what follows it
        text = text[closes[-1].end() :]
    opened = _OPEN_REASONING.match(text)
    if opened:  # never closed: skip to the first answer tag
        rest = re.search(r"<(?:synthesis|confidence)\s*>", text[opened.end() :], re.I)
        text = text[opened.end() + rest.start() :] if rest else ""
    return text


def _tag(text: str, name: str) -> str | None:
    closed = re.findall(rf"<{name}\s*>(.*?)</{name}\s*>", text, re.S | re.I)
    if closed:
        return closed[-1].strip()
    others = "|".join(_TAGS)
    unclosed = re.findall(rf"<{name}\s*>(.*?)(?=</?(?:{others})\s*>|\Z)", text, re.S | re.I)
    return unclosed[-1].strip() if unclosed else None


def _truthy(text: str | None) -> bool:
    words = (text or "").lower().split()
    return bool(words) and words[0].strip(".,!") in {"true", "yes", "y", "1"}


def _json_verdict(text: str) -> ArbiterVerdict | None:
    fenced = _FENCE.match(text)
    body = (fenced.group(1) if fenced else text).strip()
    if not body.startswith("{"):
        return None
    try:
        data = json.loads(body)
        return ArbiterVerdict.model_validate(data) if isinstance(data, dict) else None
    except (ValueError, ValidationError):
        return None


def parse_arbiter_text(text: str | None) -> ArbiterVerdict | Unreadable:
    """Read a tagged (or JSON) arbiter answer; :class:`Unreadable` when it cannot be read.

    Reasoning sections are ignored; when a tag appears more than once (an
    echoed template, then the answer) the last one counts. ``<synthesis>``
    and a numeric ``<confidence>`` are required.
    """
    body = strip_reasoning(text or "")
    if not body.strip():
        return Unreadable("the answer was empty")
    from_json = _json_verdict(body)
    if from_json is not None:
        return from_json
    ranking = normalise_ranking(_tag(body, "ranking"))
    synthesis = _tag(body, "synthesis")
    if not synthesis:
        return Unreadable("there is no <synthesis> section", ranking)
    confidence_text = _tag(body, "confidence")
    if confidence_text is None:
        return Unreadable("there is no <confidence> section", ranking)
    confidence = parse_confidence(confidence_text)
    if confidence is None:
        return Unreadable(f"<confidence> is not a number: {confidence_text[:40]!r}", ranking)
    return ArbiterVerdict(
        synthesis=synthesis,
        confidence=confidence,
        analysis=_tag(body, "analysis") or "",
        dissent=_tag(body, "dissent") or "",
        needs_iteration=_truthy(_tag(body, "needs_iteration")),
        refinement_areas=_areas(_tag(body, "refinement_areas")),
        ranking=ranking,
    )


# -- prompts --------------------------------------------------------------------------


def member_messages(
    history: list[dict[str, Any]], prompt: str, previous: ArbiterVerdict | None
) -> list[dict[str, Any]]:
    """What members are asked: the request, then (after a round) the synthesis to improve."""
    text = prompt
    if previous is not None:
        parts = [
            prompt,
            "---",
            "Several assistants answered this before, and an arbiter combined their answers "
            f"(confidence {previous.confidence:.0%}):",
            f"<previous_synthesis>\n{previous.synthesis}\n</previous_synthesis>",
        ]
        if previous.refinement_areas:
            areas = "\n".join(f"- {area}" for area in previous.refinement_areas)
            parts.append(f"The arbiter asks for work on:\n{areas}")
        if previous.dissent:
            parts.append(f"Points of disagreement: {previous.dissent}")
        parts.append("Give your best, improved answer to the request.")
        text = "\n\n".join(parts)
    return [*history, {"role": "user", "content": text}]


def arbiter_messages(
    history: list[dict[str, Any]],
    prompt: str,
    named: list[tuple[str, MemberAnswer]],
    round_: int,
    previous: ArbiterVerdict | None,
    previous_round: int,
) -> list[dict[str, Any]]:
    """What the arbiter is asked: the conversation, the request and the named responses."""
    parts: list[str] = []
    if history:
        lines = [f"{m.get('role', 'user').title()}: {m.get('content', '')}" for m in history]
        parts.append("<conversation_so_far>\n" + "\n\n".join(lines) + "\n</conversation_so_far>")
    parts.append(f"<request>\n{prompt}\n</request>")
    if previous is not None:
        parts.append(
            f"This is round {round_}. Your synthesis of round {previous_round} (confidence "
            f"{previous.confidence:.2f}) was:\n"
            f"<previous_synthesis>\n{previous.synthesis}\n</previous_synthesis>\n"
            "The assistants were shown it and asked to improve on: "
            + ("; ".join(previous.refinement_areas) or "anything they could")
        )
    blocks = []
    for name, answer in named:
        if answer.ok:
            blocks.append(f'<response name="{name}">\n{answer.content}\n</response>')
        else:
            error = scrub(answer.error or "unknown error", answer.member.model)
            blocks.append(
                f'<response name="{name}" status="failed">[no answer: {error}]</response>'
            )
    parts.append("<responses>\n" + "\n".join(blocks) + "\n</responses>")
    parts.append(
        "Judge the responses and write the synthesis. Set needs_iteration only if another "
        "round of answers would clearly improve it; rank the responses by name, best first."
    )
    return [
        {"role": "system", "content": ARBITER_SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def scrub(text: str, model: Model) -> str:
    """``text`` without the model's name, so the arbiter cannot tell who failed."""
    for name in sorted({model.model_string, model.name, model.provider}, key=len, reverse=True):
        if name and len(name) >= 3:
            text = text.replace(name, "[model]")
    return text
