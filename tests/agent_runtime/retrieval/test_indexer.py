"""The indexer: tags never reach the vector index; a row that keeps failing is parked (visible,
retryable) instead of retried forever; a broken index never breaks search."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from sqlmodel import Session, func, select

from agent_runtime.core.errors import InvalidInput, RecalldError
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec, MessageInput, PassageInput
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm import ChatRequest, ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval import indexer as indexer_module
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.indexer import MAX_ATTEMPTS
from agent_runtime.retrieval.parts import row_of
from agent_runtime.retrieval.vector_index import (
    MemoryIndex,
    Metadata,
    Space,
    VectorFilter,
    VectorHit,
)
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Passage


class FlakyIndex(MemoryIndex):
    """Refuses writes of the passages in `poison` (by row id), or everything while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.poison: set[int] = set()
        self.down = False
        self.query_broken = False

    def upsert(
        self, collection: str, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]
    ) -> None:
        if self.down or any(row_of(i) in self.poison for i in ids if i.startswith("p:")):
            raise RecalldError("vector store write failed: Error in compaction")
        super().upsert(collection, ids, vectors, metadatas)

    def query(
        self, collection: str, vector: np.ndarray, k: int, only: VectorFilter | None = None
    ) -> list[VectorHit]:
        if self.query_broken:
            raise RecalldError("vector store query failed: Error in compaction")
        return super().query(collection, vector, k, only)

    def healthy(self) -> bool:
        return not self.down


@pytest.fixture
def index() -> FlakyIndex:
    return FlakyIndex()


@pytest.fixture
def rt(settings: Settings, index: FlakyIndex) -> Iterator[Runtime]:
    runtime = Runtime(
        settings,
        llm=ScriptedLLM(),
        embedder_factory=lambda _n: FakeEmbedder(),
        index=index,
        background_indexing=False,  # indexed inline, so the test sees each attempt
    )
    yield runtime
    runtime.close()


def poison(
    rt: Runtime, index: FlakyIndex, agent_id: str, text: str, tenant: str = "default"
) -> int:
    """Insert a passage whose vectors the index refuses (ids are not reused, so the next)."""
    with Session(rt.engine) as session:
        index.poison.add((session.exec(select(func.max(Passage.id))).one() or 0) + 1)
    return rt.insert_passage(agent_id, text, tenant=tenant).id or 0


def attempts(rt: Runtime, passage_id: int) -> int:
    with Session(rt.engine) as session:
        row = session.get(Passage, passage_id)
        assert row is not None
        return row.index_attempts


def test_a_passage_carries_a_bounded_number_of_tags(rt: Runtime) -> None:
    agent_id = rt.create_agent(AgentSpec(name="t")).id
    with pytest.raises(InvalidInput) as info:
        rt.insert_passage(agent_id, "many", tags=[f"t{i}" for i in range(10_000)])
    assert info.value.field == "tags" and "32" in info.value.message
    with pytest.raises(InvalidInput):
        rt.insert_passages(agent_id, [PassageInput("x", tags=["a" * 65])])
    assert rt.passages(agent_id) == []  # refused whole


def test_tags_never_become_index_metadata_and_still_filter(rt: Runtime, index: FlakyIndex) -> None:
    agent_id = rt.create_agent(AgentSpec(name="t")).id
    for i in range(40):
        rt.insert_passage(agent_id, f"note {i} about the garden", tags=[f"tag-{i}", "garden"])
    rt.insert_passage(agent_id, "the garden gate code is 4411", tags=["secret"])
    collection = Space.of(FakeEmbedder(), agent_id, "passage")
    assert index.metadata_keys(collection) == {"ts"}
    hits, total = rt.search_archival(agent_id, "garden gate code", tags=["tag-7"])
    assert [h.text for h in hits] == ["note 7 about the garden"] and total == 1


def test_a_row_that_keeps_failing_is_parked_and_can_be_retried(
    rt: Runtime, index: FlakyIndex
) -> None:
    agent_id = rt.create_agent(AgentSpec(name="t")).id
    rt.insert_passage(agent_id, "a healthy passage about boats")
    bad = poison(rt, index, agent_id, "a passage the index refuses")
    rt.insert_passage(agent_id, "another healthy passage about boats")
    assert attempts(rt, bad) >= 1
    indexer = rt.services.indexer
    for _ in range(MAX_ATTEMPTS):
        indexer.index_agent(agent_id)
    assert attempts(rt, bad) == MAX_ATTEMPTS
    status = indexer.status(agent_id=agent_id)
    assert status["parked_rows"] == 1 and status["pending_rows"] == 0
    assert indexer.index_agent(agent_id) == 0  # parked: not tried again
    hits, _ = rt.search_archival(agent_id, "boats")  # search works, the others are indexed
    assert {h.text for h in hits} >= {"a healthy passage about boats"}
    index.poison.clear()
    assert indexer.retry(agent_id) == 1
    status = indexer.status(agent_id=agent_id)
    assert status["parked_rows"] == 0 and status["pending_rows"] == 0  # retried inline: done
    assert attempts(rt, bad) == 0


def test_an_index_that_is_down_blames_no_row(rt: Runtime, index: FlakyIndex) -> None:
    agent_id = rt.create_agent(AgentSpec(name="t")).id
    index.down = True
    passage = rt.insert_passage(agent_id, "written while the index is down")  # still saved
    status = rt.services.indexer.status(agent_id=agent_id)
    assert status["pending_rows"] == 1 and status["parked_rows"] == 0
    assert status["failing_agents"] == 1
    assert attempts(rt, passage.id or 0) == 0
    hits, _ = rt.search_archival(agent_id, "index down")  # keywords answer meanwhile
    assert [h.text for h in hits] == ["written while the index is down"]
    index.down = False
    rt.services.indexer.index_agent(agent_id)
    assert rt.services.indexer.status(agent_id=agent_id)["pending_rows"] == 0


def test_a_broken_collection_falls_back_to_keywords(rt: Runtime, index: FlakyIndex) -> None:
    agent_id = rt.create_agent(AgentSpec(name="t")).id
    rt.insert_passage(agent_id, "invoice INV-7 was paid in March")
    index.query_broken = True
    hits, _ = rt.search_archival(agent_id, "invoice INV-7")
    assert [h.text for h in hits] == ["invoice INV-7 was paid in March"]


def test_status_is_scoped_to_a_tenant(rt: Runtime, index: FlakyIndex) -> None:
    mine = rt.create_agent(AgentSpec(name="t"), tenant="acme").id
    theirs = rt.create_agent(AgentSpec(name="t"), tenant="other").id
    poison(rt, index, theirs, "their bad row", tenant="other")
    index.down = True
    rt.insert_passage(mine, "my pending row", tenant="acme")
    acme = rt.services.indexer.status(tenant="acme")
    other = rt.services.indexer.status(tenant="other")
    assert acme["pending_rows"] == 1 and acme["last_error"]["agent_id"] == mine  # type: ignore[index]
    assert other["pending_rows"] == 1 and other["failing_agents"] == 0
    assert rt.services.indexer.status()["pending_rows"] == 2


class DownEmbedder(FakeEmbedder):
    def embed(self, texts: list[str]) -> np.ndarray:
        raise ConnectionError("embedding service unreachable")


def test_an_embedder_that_is_down_blames_no_row(settings: Settings, index: FlakyIndex) -> None:
    rt = Runtime(
        settings,
        llm=ScriptedLLM(),
        embedder_factory=lambda _n: DownEmbedder(),
        index=index,
        background_indexing=False,
    )
    try:
        agent_id = rt.create_agent(AgentSpec(name="t")).id
        passage = rt.insert_passage(agent_id, "one lonely row")  # one row: still not its fault
        status = rt.services.indexer.status(agent_id=agent_id)
        assert status["failing_agents"] == 1 and status["pending_rows"] == 1
        assert "embedding service unreachable" in str(status["last_error"])
        assert attempts(rt, passage.id or 0) == 0
    finally:
        rt.close()


def test_a_rolled_back_step_leaves_no_vectors(runtime: Runtime, vector_index: MemoryIndex) -> None:
    """A search inside a step used to upsert the step's own new rows; when the step rolled back
    they stayed in the index, and the next passage with that id inherited them."""
    from agent_runtime.core.errors import LeaseLost
    from agent_runtime.llm import ChatResponse
    from agent_runtime.storage.database import transaction
    from agent_runtime.storage.tables import Agent

    agent_id = runtime.create_agent(AgentSpec(name="r")).id
    calls = ScriptedLLM()

    class InsertSearchThenLose:
        def complete(self, request: ChatRequest) -> ChatResponse:
            with transaction(runtime.engine) as session:  # another turn takes the agent over
                agent = session.get(Agent, agent_id)
                assert agent is not None
                agent.lease_owner = "another-turn"
            return ChatResponse(
                tool_calls=[
                    calls.call("archival_memory_insert", {"content": "The vault code is 1234"}),
                    calls.call("archival_memory_search", {"query": "vault code"}),
                ]
            )

    runtime.services.llm_for = lambda _m: InsertSearchThenLose()
    with pytest.raises(LeaseLost):
        runtime.send(agent_id, ["store the vault code"])
    collection = Space.of(FakeEmbedder(), agent_id, "passage")
    query = FakeEmbedder().embed(["vault code"])[0]
    assert vector_index.query(collection, query, 50, None) == []  # nothing of the step
    with transaction(runtime.engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        agent.lease_owner = agent.lease_until = agent.lease_process = None
    later = runtime.insert_passage(agent_id, "the weather is mild today. Sunny at noon.")
    runtime.search_archival(agent_id, "weather")  # indexed by now
    stored = {h.id for h in vector_index.query(collection, query, 50, None)}
    own = {vid for vid, _text in parts.vectors("p", later.id or 0, later.text)}
    assert stored == own  # its own text's vectors, nothing inherited


def test_a_search_inside_a_step_finds_the_steps_own_rows_by_meaning(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="r")).id
    fake_llm.reply(
        archival_memory_insert={"content": "Pixel the cat sleeps on the radiator"},
        archival_memory_search={"query": "radiator cat"},
    )
    fake_llm.reply("ok")
    result = runtime.send(agent_id, ["remember my cat"])
    found = [m.content for m in result.messages if m.role == "tool"][1]
    assert "Pixel the cat" in found


def test_deleting_a_passage_removes_every_vector_whatever_its_text_is_now(
    runtime: Runtime, vector_index: MemoryIndex
) -> None:
    from agent_runtime.storage.database import transaction

    agent_id = runtime.create_agent(AgentSpec(name="d")).id
    passage = runtime.insert_passage(agent_id, "First sentence. Second one. Third one here.")
    runtime.services.indexer.index_agent(agent_id)
    with transaction(runtime.engine) as session:  # its text changed after it was indexed
        row = session.get(Passage, passage.id)
        assert row is not None
        row.text = "short now"
    collection = Space.of(FakeEmbedder(), agent_id, "passage")
    assert len(vector_index.ids(collection)) == 4  # the whole text and three sentences
    runtime.delete_passage(agent_id, passage.id or 0)
    assert vector_index.ids(collection) == []


def test_indexing_never_deadlocks_with_deleting_the_agent(settings: Settings, backend: str) -> None:
    """Deleting an agent locks it, then its messages, then its passages; marking rows indexed
    must not lock them in another order (on PostgreSQL one of the two was killed, ~1 in 10)."""
    if backend != "postgres":
        pytest.skip("SQLite runs one writer at a time")
    runtime = Runtime(
        settings,
        llm=ScriptedLLM(),
        embedder_factory=lambda _n: FakeEmbedder(),
        index=MemoryIndex(),
        background_indexing=False,
    )
    indexer = runtime.services.indexer
    indexer.schedule = lambda _agent_id: None  # type: ignore[method-assign]  # we index below
    failures: list[BaseException] = []
    try:
        for i in range(40):
            agent = runtime.create_agent(AgentSpec(name=f"a{i}"))
            runtime.insert_passage(agent.id, "a passage about cats")
            runtime.import_messages(
                agent.id, [MessageInput("user", "hello there"), MessageInput("assistant", "hi")]
            )

            def index(agent_id: str = agent.id) -> None:
                try:
                    indexer.index_agent(agent_id)
                except BaseException as exc:  # reported below
                    failures.append(exc)

            thread = threading.Thread(target=index)
            thread.start()
            time.sleep(0.002 * (i % 3))
            try:
                runtime.delete_agent(agent.id)
            except BaseException as exc:  # reported below
                failures.append(exc)
            thread.join(timeout=30)
    finally:
        runtime.close()
    assert failures == []


def test_the_background_indexer_gives_way_to_running_turns_for_a_bounded_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a turn runs, new rows wait for their vectors (the turn has the interpreter), but
    never longer than the give-way bound: a load that never stops still gets indexed."""
    monkeypatch.setattr(indexer_module, "GIVE_WAY_SECONDS", 1.5)
    started, release = threading.Event(), threading.Event()

    def slow_model(_request: ChatRequest) -> ChatResponse:
        started.set()
        release.wait(20)
        return ChatResponse(content="ok")

    runtime = Runtime(
        settings,
        llm=ScriptedLLM(fallback=slow_model),
        embedder_factory=lambda _n: FakeEmbedder(),
        index=MemoryIndex(),
    )

    def indexed(passage_id: int) -> bool:
        with Session(runtime.engine) as session:
            row = session.get(Passage, passage_id)
            return row is not None and row.indexed

    try:
        busy = runtime.create_agent(AgentSpec(name="busy"))
        quiet = runtime.create_agent(AgentSpec(name="quiet"))
        turn = threading.Thread(target=runtime.send, args=(busy.id, ["hello"]))
        turn.start()
        assert started.wait(10)
        passage = runtime.insert_passage(quiet.id, "the harbour at dawn").id or 0
        written = time.monotonic()
        time.sleep(0.8)  # without giving way it is indexed after 0.25 s
        assert not indexed(passage)
        while not indexed(passage):
            assert time.monotonic() - written < 10, "never indexed while the turn ran"
            time.sleep(0.05)
        assert not release.is_set() and turn.is_alive()  # indexed with the turn still running
        release.set()
        turn.join(20)
    finally:
        release.set()
        runtime.close()
