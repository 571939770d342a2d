"""Two processes on one database (two runtimes here) never embed the same pending rows, and
never leave one pending: the indexer works under the agent's claim (retrieval/claims.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime

ROUNDS = 25


class CountingEmbedder(FakeEmbedder):
    """Records every text it embeds, slowly enough that two indexers would overlap."""

    def __init__(self, seen: Counter[str], lock: threading.Lock) -> None:
        super().__init__()
        self.seen = seen
        self.lock = lock

    def embed(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            self.seen.update(texts)
        time.sleep(0.005)
        return super().embed(texts)


@pytest.fixture
def pair(settings: Settings) -> Iterator[tuple[Runtime, Runtime, Counter[str]]]:
    """Two runtimes sharing a database and a vector index, and what either embedded."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    index = MemoryIndex()
    runtimes = [
        Runtime(
            settings,
            llm=ScriptedLLM(),
            embedder_factory=lambda _n: CountingEmbedder(seen, lock),
            index=index,
            background_indexing=False,
        )
        for _ in range(2)
    ]
    for runtime in runtimes:  # rows stay pending until a test indexes them
        runtime.services.indexer.schedule = lambda _agent_id: None  # type: ignore[method-assign]
    yield runtimes[0], runtimes[1], seen
    for runtime in runtimes:
        runtime.close()


def pending(runtime: Runtime, agent_id: str) -> object:
    return runtime.services.indexer.status(agent_id=agent_id)["pending_rows"]


def test_a_claimed_agent_is_left_to_its_claimant(
    pair: tuple[Runtime, Runtime, Counter[str]],
) -> None:
    a, b, seen = pair
    agent_id = a.create_agent(AgentSpec(name="claimed")).id
    a.insert_passage(agent_id, "the lighthouse keeper rows out at dawn")
    owner = a.services.indexer.claims.take(agent_id)
    assert owner is not None
    assert b.services.indexer.claims.take(agent_id) is None
    assert b.services.indexer.index_agent(agent_id) == 0
    assert not seen and pending(b, agent_id) == 1

    a.services.indexer.claims.release(agent_id, owner)
    assert b.services.indexer.index_agent(agent_id) == 1
    assert a.services.indexer.index_agent(agent_id) == 0
    assert set(seen.values()) == {1} and pending(a, agent_id) == 0


def test_the_claim_of_a_dead_process_is_free_at_once(
    pair: tuple[Runtime, Runtime, Counter[str]],
) -> None:
    a, b, _seen = pair
    agent_id = a.create_agent(AgentSpec(name="orphaned")).id
    a.insert_passage(agent_id, "the ferry leaves at noon")
    assert a.services.indexer.claims.take(agent_id) is not None
    a.processes.stop()  # as if it died: its row is gone (claims last CLAIM_SECONDS otherwise)
    assert b.services.indexer.index_agent(agent_id) == 1
    assert pending(b, agent_id) == 0


def test_indexers_racing_on_one_agent_embed_each_row_once_and_leave_none(
    pair: tuple[Runtime, Runtime, Counter[str]],
) -> None:
    a, b, seen = pair
    agent_id = a.create_agent(AgentSpec(name="raced")).id
    errors: list[BaseException] = []

    def index(runtime: Runtime) -> None:
        try:
            runtime.services.indexer.index_agent(agent_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    for i in range(ROUNDS):
        writer = (a, b)[i % 2]
        writer.insert_passage(agent_id, f"note number {i} about the harbour")
        threads = [threading.Thread(target=index, args=(r,)) for r in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert pending(a, agent_id) == 0, f"round {i}: a row was left pending"
    assert errors == []
    twice = {text: n for text, n in seen.items() if n > 1}
    assert not twice, f"embedded more than once: {twice}"
    assert len(seen) == ROUNDS
