"""An offline, deterministic embedder: the words of a text hashed into a fixed-size vector.

Texts that share words get similar vectors, so it retrieves by vocabulary,
not meaning; it needs no network, no key and no model file, and gives the same
vector for the same text in every process (the hashes are BLAKE2, not Python's
salted ``hash``). Tests use it; so does ``llmgine chat --memory`` without a key.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence

from llmgine.models.embedder import Embedder

__all__ = ["HashEmbedder"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

#: Words too common to say what a text is about.
_STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her
    his how i if in into is it its me my no not of on or our she so than that the their them
    then there these they this to was we were what when where which who why will with would
    you your yes please thanks""".split()
)


class HashEmbedder(Embedder):
    """Feature hashing of a text's words: each word adds ±weight to one of ``dimensions`` slots.

    Args:
        dimensions: Length of the vectors.

    Raises:
        ValueError: ``dimensions`` is below 8.
    """

    def __init__(self, dimensions: int = 256) -> None:
        if dimensions < 8:
            raise ValueError(f"dimensions must be at least 8, got {dimensions}")
        self.dimensions = dimensions

    @property
    def name(self) -> str:
        """``"hash:<dimensions>"``."""
        return f"hash:{self.dimensions}"

    def vector(self, text: str) -> list[float]:
        """The unit vector of ``text`` (all zeros when it has no content words)."""
        words = Counter(
            word for word in _WORD.findall(text.lower()) if len(word) > 1 and word not in _STOPWORDS
        )
        values = [0.0] * self.dimensions
        for word, count in words.items():
            code = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            sign = 1.0 if code >> 63 else -1.0
            values[code % self.dimensions] += sign * (1.0 + math.log(count))
        norm = math.sqrt(sum(v * v for v in values))
        return [v / norm for v in values] if norm else values

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of ``texts``."""
        return [self.vector(text) for text in texts]
