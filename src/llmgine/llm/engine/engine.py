"""Seed import path of the engine base class; use :mod:`llmgine.engines`."""

from llmgine.engines.base import Engine

__all__ = ["Engine"]
