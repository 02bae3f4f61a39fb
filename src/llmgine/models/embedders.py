"""Embedders by name: ``get_embedder("hash")``, ``get_embedder("openai:text-embedding-3-small")``.

``"hash"`` is the offline, deterministic
:class:`~llmgine.models.hash_embedder.HashEmbedder`; ``"provider:model"`` of an
OpenAI-format provider is an :class:`~llmgine.models.openai_embedder.OpenAIEmbedder`.
"""

from __future__ import annotations

import os

from llmgine.errors import UnknownModelError
from llmgine.models.embedder import Embedder

__all__ = ["DEFAULT_OPENAI_EMBEDDING", "get_embedder"]

#: The embedding model used when an OpenAI key is set and none is named.
DEFAULT_OPENAI_EMBEDDING = "openai:text-embedding-3-small"


def get_embedder(spec: Embedder | str | None = None) -> Embedder:
    """An embedder from a name: ``"hash"``, ``"hash:512"``, ``"openai:text-embedding-3-small"``.

    None: OpenAI's ``text-embedding-3-small`` when ``OPENAI_API_KEY`` is set,
    else the offline hash embedder.

    Raises:
        UnknownModelError: the name is neither ``hash`` nor ``provider:model``
            of an OpenAI-format provider.
    """
    if isinstance(spec, Embedder):
        return spec
    if spec is None:
        from llmgine.providers.credentials import load_dotenv_once

        load_dotenv_once()
        spec = DEFAULT_OPENAI_EMBEDDING if os.environ.get("OPENAI_API_KEY") else "hash"
    name, _, rest = spec.partition(":")
    if name == "hash":
        from llmgine.models.hash_embedder import HashEmbedder

        try:
            return HashEmbedder(int(rest)) if rest else HashEmbedder()
        except ValueError:
            raise UnknownModelError(
                f"embedder {spec!r}: give the hash embedder's dimensions as a number (hash:256)"
            ) from None
    if not rest:
        raise UnknownModelError(
            f"unknown embedder {spec!r}: use hash (offline) or provider:model, e.g. "
            f"{DEFAULT_OPENAI_EMBEDDING}"
        )
    from llmgine.models.openai_embedder import OpenAIEmbedder

    return OpenAIEmbedder(rest, name)
