"""Masking streamed text whole: HeldDeltas (the log's) and StreamMasker (a live view's)."""

from __future__ import annotations

import pytest

from llmgine.engines.messages import EngineTextDeltaEvent, EngineThinkingDeltaEvent
from llmgine.messages.events import StreamDeltaEvent
from llmgine.observability.redaction import Redactor
from llmgine.observability.streams import MAX_HELD, HeldDeltas, StreamMasker

KEY = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234"


def deltas(
    *texts: str, kind: type[StreamDeltaEvent] = EngineTextDeltaEvent
) -> list[StreamDeltaEvent]:
    return [kind(text=text, trace_id="t1", parent_id="call-1") for text in texts]


def written(held: HeldDeltas, events: list[StreamDeltaEvent]) -> list[tuple[str, str]]:
    """(event id, text written) of each event, in the order they are given back."""
    out = []
    for event in events:
        out += held.add(event)
    out += held.release()
    return [(event.event_id, event.text if text is None else text) for event, text in out]


@pytest.mark.parametrize(
    "pieces",
    [
        ["my key is sk-proj-ABCD", "EFGHIJKLMNOPQRST", "UVWX1234 so there"],
        ["my key is ", "sk-", "proj-ABCDEFGHIJKLMNOPQRSTUVWX1234", "."],
        ["Authorization: Bearer", " ", "abc.def-ghi.jkl", "mnop end"],
    ],
)
def test_a_secret_split_over_pieces_is_masked_and_every_piece_is_kept(pieces: list[str]) -> None:
    events = deltas(*pieces)
    out = written(HeldDeltas(Redactor(use_environment=False)), events)
    assert [event_id for event_id, _ in out] == [e.event_id for e in events]  # each once, in order
    joined = "".join(text for _, text in out)
    assert joined == Redactor(use_environment=False).redact_text("".join(pieces))
    assert "ABCDEFGH" not in joined and "def-ghi" not in joined
    assert "***" in joined


def test_text_without_secrets_is_written_as_it_came() -> None:
    pieces = ["Hello", " world", ".", " How", " are", " you", "?"]
    events = deltas(*pieces)
    held = HeldDeltas(Redactor(use_environment=False))
    given_back = [len(held.add(event)) for event in events]
    assert given_back == [0, 1, 0, 2, 1, 1, 0]  # held at most until the next word starts
    out = [(event.event_id, text) for event, text in held.release()]
    assert out == [(events[-2].event_id, None), (events[-1].event_id, None)]


def test_another_stream_or_a_long_word_releases_what_is_held() -> None:
    held = HeldDeltas(Redactor(use_environment=False))
    (answer,) = deltas("The answer is")
    (thought,) = deltas("Let me", kind=EngineThinkingDeltaEvent)
    assert held.add(answer) == []
    assert held.add(thought) == [(answer, None)]  # another stream: the first one's piece goes
    assert held.holding
    assert [event for event, _ in held.release()] == [thought] and not held.holding
    (word,) = deltas("x" * (MAX_HELD + 1))
    assert held.add(word) == [(word, None)]


def test_a_known_secret_is_masked_across_pieces() -> None:
    secret = "Zq9-super-secret-value-7781"
    events = deltas("the value ", secret[:10], secret[10:], " is private")
    out = written(HeldDeltas(Redactor([secret], use_environment=False)), events)
    joined = "".join(text for _, text in out)
    assert secret[:10] not in joined and secret[10:] not in joined
    assert joined.startswith("the value ") and joined.endswith(" is private")


@pytest.mark.parametrize(
    ("pieces", "shown"),
    [
        (
            ["my key is sk-proj-ABCD", "EFGHIJKLMNOPQRSTUVWX1234 ok"],
            ["my key is ", "*** ", "ok"],
        ),
        (["plain words ", "only"], ["plain words ", "only"]),
    ],
)
def test_stream_masker_lets_whole_words_through(pieces: list[str], shown: list[str]) -> None:
    masker = StreamMasker(Redactor(use_environment=False))
    out = [masker.feed(piece) for piece in pieces] + [masker.flush()]
    assert [text for text in out if text] == shown
