"""Seed import path of the OpenAI model presets; use :mod:`llmgine.llm.models`."""

from llmgine.llm.models.presets import Gpt41, Gpt41Mini, Gpt_4o_Mini_Latest, Gpt_o3_Mini

__all__ = ["Gpt41", "Gpt41Mini", "Gpt_4o_Mini_Latest", "Gpt_o3_Mini"]
