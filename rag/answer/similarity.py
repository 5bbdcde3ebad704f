"""Sentence-level similarity to a question, for the answerer's choice of sentences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

_CACHED = 20_000  # sentence vectors kept (~30 MB at 384 floats each)


class Similarity:
    """Cosine similarity of a question to texts. The same sentences come back for many questions (the top
    chunks of a KB are few), so their vectors are cached; a full cache starts afresh."""

    def __init__(self, embeddings: Callable[[], Embeddings], cached: int = _CACHED) -> None:
        self._embeddings = embeddings
        self._cached = cached
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, question: str, texts: list[str]) -> list[float]:
        vectors = self._vectors_of([question, *texts])
        return [float(np.dot(vectors[0], v)) for v in vectors[1:]]

    def _vectors_of(self, texts: list[str]) -> list[np.ndarray]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            if len(self._vectors) + len(missing) > self._cached:
                self._vectors.clear()
            for text, vector in zip(missing, self._embeddings().embed_documents(missing), strict=True):
                v = np.asarray(vector, dtype=np.float32)
                self._vectors[text] = v / (np.linalg.norm(v) or 1.0)
        return [self._vectors[t] for t in texts]
