from __future__ import annotations

import pytest

from agent_runtime.errors import InvalidInput, NotFound
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.specs import AgentPatch, AgentSpec, BlockSpec
from agent_runtime.vector_index import MemoryIndex


def test_deleting_an_agent_removes_its_rows_vectors_and_own_blocks(
    runtime: Runtime, fake_llm: ScriptedLLM, vector_index: MemoryIndex
) -> None:
    keep = runtime.create_agent(AgentSpec(name="keep")).id
    gone = runtime.create_agent(AgentSpec(name="gone")).id
    fake_llm.reply("hi")
    runtime.send(gone, ["hello"])
    runtime.insert_passage(gone, "a passage")
    runtime.services.indexer.index_agent(gone)  # vectors are written in the background
    assert any(gone in c for c in vector_index.collections())
    runtime.delete_agent(gone)
    assert not any(gone in c for c in vector_index.collections())
    with pytest.raises(NotFound):
        runtime.messages(gone)
    labels = [b.label for b in runtime.list_blocks()]
    assert labels == ["persona", "human"]  # only the kept agent's blocks remain
    assert runtime.get_agent(keep).name == "keep"


def test_an_agent_deleted_while_its_rows_are_embedded_leaves_no_collection(
    runtime: Runtime, vector_index: MemoryIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = runtime.create_agent(AgentSpec(name="gone")).id
    indexer = runtime.services.indexer
    upsert = indexer._upsert

    def deleted_meanwhile(*args):  # type: ignore[no-untyped-def]
        runtime.delete_agent(gone)  # commits and drops the collections before the upsert
        return upsert(*args)

    monkeypatch.setattr(indexer, "_upsert", deleted_meanwhile)
    with monkeypatch.context() as patch:
        patch.setattr(indexer, "schedule", lambda _agent_id: None)  # index by hand below
        runtime.insert_passage(gone, "a passage")
    indexer.index_agent(gone)
    assert not any(gone in c for c in vector_index.collections())


def test_updates_are_validated_and_rerender_the_prompt(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="u", blocks=[BlockSpec("human", "Ada")])).id
    before = runtime.get_agent(agent_id).system_prompt
    runtime.update_agent(agent_id, AgentPatch(system="Answer in French."))
    after = runtime.get_agent(agent_id).system_prompt
    assert after.startswith("Answer in French.") and after != before
    with pytest.raises(InvalidInput) as info:
        runtime.update_agent(agent_id, AgentPatch(context_window=10))
    assert info.value.field == "context_window"
    with pytest.raises(InvalidInput):
        runtime.create_agent(AgentSpec(name="dupes", blocks=[BlockSpec("a"), BlockSpec("a")]))
    with pytest.raises(InvalidInput, match="label"):
        runtime.create_agent(AgentSpec(name="bad", blocks=[BlockSpec("Bad Label")]))
