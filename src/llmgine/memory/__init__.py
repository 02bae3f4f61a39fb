"""Memory: past turns embedded, the most relevant recalled into a turn's context.

* :class:`Memory` - indexes the turns of stored conversations and recalls
  those most similar to a query, under a token budget.
* :class:`MemoryContextManager` - a stored conversation that recalls into
  each turn and publishes a :class:`MemoryRecallEvent` saying what.
* :mod:`llmgine.memory.backends` - the vector search: sqlite-vec, numpy or plain Python.

Embedders are models: :class:`~llmgine.models.Embedder`,
:class:`~llmgine.models.OpenAIEmbedder`, the offline
:class:`~llmgine.models.HashEmbedder`.
"""

from llmgine.memory.backends import BACKENDS, open_backend
from llmgine.memory.context import MemoryContextManager
from llmgine.memory.events import MemoryRecallEvent
from llmgine.memory.recall import Memory, Recall, RecalledTurn, Turn, turns_of
from llmgine.memory.vectors import VectorBackend

__all__ = [
    "BACKENDS",
    "Memory",
    "MemoryContextManager",
    "MemoryRecallEvent",
    "Recall",
    "RecalledTurn",
    "Turn",
    "VectorBackend",
    "open_backend",
    "turns_of",
]
