"""Seed import path of the model call events; use :mod:`llmgine.llm.events`."""

from llmgine.llm.events import LLMCallEvent, LLMResponseEvent, LLMStreamEvent

__all__ = ["LLMCallEvent", "LLMResponseEvent", "LLMStreamEvent"]
