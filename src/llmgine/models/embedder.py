"""The embedding extension point: :class:`Embedder` turns texts into vectors.

:func:`~llmgine.models.embedders.get_embedder` makes one from a name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

__all__ = ["Embedder"]


class Embedder(ABC):
    """Turns texts into vectors of one length; similar texts get similar vectors."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The embedding space (``"openai:text-embedding-3-small"``); two spaces never mix."""

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order.

        Raises:
            ProviderError: a remote embedder's call failed.
        """

    async def embed_one(self, text: str) -> list[float]:
        """The vector of one text."""
        return (await self.embed([text]))[0]
