"""The embedding seam: an `Embedder` protocol with local, litellm and fake implementations."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def make_embedder(name: str, models_dir: Path | None = None) -> Embedder:
    """`local` (all-MiniLM-L6-v2 on the CPU, its graph kept in `models_dir`), `fake`
    (deterministic), or a litellm model name."""
    if name == "local":
        from agent_runtime.embedding.minilm import MiniLMEmbedder

        return MiniLMEmbedder(cache_dir=models_dir)
    if name == "fake":
        from agent_runtime.embedding.fake import FakeEmbedder

        return FakeEmbedder()
    from agent_runtime.embedding.remote import RemoteEmbedder

    return RemoteEmbedder(name)
