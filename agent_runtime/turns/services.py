"""The services one runtime shares between its parts, built once at start and passed down."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from agent_runtime.core.settings import Settings
from agent_runtime.embedding import Embedder, make_embedder
from agent_runtime.facts.store import FactMemory
from agent_runtime.llm import LLM
from agent_runtime.llm.endpoints import Endpoints
from agent_runtime.llm.tokens import TokenCounter
from agent_runtime.retrieval.indexer import Indexer
from agent_runtime.retrieval.search import Searcher
from memory_tools import ToolRegistry


@dataclass
class Embedders:
    """One embedder per name, made on first use (the local model takes a moment to load)."""

    factory: Callable[[str], Embedder] = make_embedder
    _made: dict[str, Embedder] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, name: str) -> Embedder:
        with self._lock:
            if name not in self._made:
                self._made[name] = self.factory(name)
            return self._made[name]


@dataclass
class Services:
    settings: Settings
    engine: Engine
    llm_for: Callable[[str], LLM]
    # Refuses a model string that no LLM here can serve (InvalidInput), before any call.
    check_route: Callable[[str], None]
    endpoints: Endpoints
    embedders: Embedders
    searcher: Searcher
    indexer: Indexer
    tools: ToolRegistry
    counter: TokenCounter
    facts: FactMemory
