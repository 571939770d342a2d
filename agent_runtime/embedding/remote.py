"""Embeddings from any litellm embedding model (`openai/text-embedding-3-small`, `ollama/...`)."""

from __future__ import annotations

import numpy as np

from agent_runtime.llm.litellm_model import embed_texts


class RemoteEmbedder:
    def __init__(self, model: str) -> None:
        self.name = model
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        vectors = np.asarray(embed_texts(self.name, texts), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self._dimension = int(vectors.shape[1])
        return vectors
