"""LLM layer: models, providers, responses, tools and their events."""

from typing import NewType

#: Seed-compatible alias for session ids.
SessionID = NewType("SessionID", str)

__all__ = ["SessionID"]
