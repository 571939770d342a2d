"""`doctor` finds each kind of damage between the database and the vector index, and repairs it."""

from __future__ import annotations

import numpy as np

from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval import parts
from agent_runtime.retrieval.vector_index import MemoryIndex, Space
from agent_runtime.runtime import Runtime
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Passage


def test_doctor_finds_and_repairs_missing_stale_and_orphan_vectors(
    runtime: Runtime, fake_llm: ScriptedLLM, vector_index: MemoryIndex
) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="doc")).id
    kept = runtime.insert_passage(agent_id, "A healthy passage. It has two sentences.")
    lost = runtime.insert_passage(agent_id, "A passage whose vectors were lost.")
    edited = runtime.insert_passage(agent_id, "Old first sentence. Old second sentence.")
    fake_llm.reply("hello")
    runtime.send(agent_id, ["hi there"])
    runtime.services.indexer.index_agent(agent_id)
    assert all(f.healthy for f in runtime.doctor(agent_id))

    passages = Space.of(FakeEmbedder(), agent_id, "passage")
    vector_index.delete(passages, parts.every_id("p", lost.id or 0))  # missing
    with transaction(runtime.engine) as session:  # stale: the text changed after indexing
        row = session.get(Passage, edited.id)
        assert row is not None
        row.text = "A single new sentence"
    orphan_vector = FakeEmbedder().embed(["gone"])
    vector_index.upsert(passages, ["p:99999"], orphan_vector, [{"ts": 0, "row": 99999}])

    found = {f.kind: f for f in runtime.doctor(agent_id)}
    assert found["message"].healthy
    damage = found["passage"]
    assert damage.missing == [lost.id]
    assert damage.orphans == ["p:99999"]
    assert set(damage.stale) == {f"p:{edited.id}:1", f"p:{edited.id}:2"}
    assert f"p:{kept.id}" not in damage.stale + damage.orphans

    repaired = {f.kind: f for f in runtime.doctor(agent_id, repair=True)}
    assert repaired["passage"].repaired
    runtime.services.indexer.index_agent(agent_id)
    assert all(f.healthy for f in runtime.doctor(agent_id)), runtime.doctor(agent_id)
    query = np.asarray(FakeEmbedder().embed(["vectors were lost"])[0])
    assert any(h.id == f"p:{lost.id}" for h in vector_index.query(passages, query, 20, None))


def test_doctor_checks_every_agent_of_a_tenant_only(runtime: Runtime) -> None:
    mine = runtime.create_agent(AgentSpec(name="a"), tenant="acme").id
    runtime.create_agent(AgentSpec(name="b"), tenant="other")
    assert {f.agent_id for f in runtime.doctor(tenant="acme")} == {mine}
