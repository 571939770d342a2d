"""The runtime bench/facts.py measures: SQLite, embedded Chroma, the local embedder."""

from __future__ import annotations

from pathlib import Path

from agent_runtime.core.settings import Settings
from agent_runtime.embedding.minilm import MiniLMEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime

TENANT = "default"


def runtime_in(home: Path, embedder: MiniLMEmbedder | None = None) -> Runtime:
    """A runtime on `home` (SQLite, embedded Chroma) with the local embedder."""
    factory = None if embedder is None else (lambda _name: embedder)
    return Runtime(
        Settings(home=home, default_embedding="local"),
        llm=ScriptedLLM(),
        embedder_factory=factory,  # type: ignore[arg-type]
        background_indexing=False,
    )
