from __future__ import annotations

import pytest

from agent_runtime.core.errors import Conflict, InvalidInput, NotFound
from agent_runtime.core.specs import AgentPatch, AgentSpec, BlockSpec
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime


def test_deleting_an_agent_removes_its_rows_vectors_and_own_blocks(
    runtime: Runtime, fake_llm: ScriptedLLM, vector_index: MemoryIndex
) -> None:
    keep = runtime.create_agent(AgentSpec(name="keep")).id
    gone = runtime.create_agent(AgentSpec(name="gone")).id
    fake_llm.reply("hi")
    runtime.send(gone, ["hello"])
    runtime.insert_passage(gone, "a passage")
    runtime.services.indexer.index_agent(gone)  # vectors are written in the background
    assert any(c.owner == gone for c in vector_index.collections())
    runtime.delete_agent(gone)
    assert not any(c.owner == gone for c in vector_index.collections())
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
    assert not any(c.owner == gone for c in vector_index.collections())


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


def test_names_are_unique_per_tenant(runtime: Runtime) -> None:
    first = runtime.create_agent(AgentSpec(name="helper"))
    with pytest.raises(Conflict, match="helper"):
        runtime.create_agent(AgentSpec(name="helper"))
    other = runtime.create_agent(AgentSpec(name="helper"), tenant="acme")  # another tenant's own
    second = runtime.create_agent(AgentSpec(name="helper-2"))
    with pytest.raises(Conflict):
        runtime.update_agent(second.id, AgentPatch(name="helper"))
    runtime.update_agent(first.id, AgentPatch(name="helper"))  # its own name: no conflict
    assert [a.id for a in runtime.list_agents(name="helper")] == [first.id]
    assert [a.id for a in runtime.list_agents(name="helper", tenant="acme")] == [other.id]


@pytest.mark.parametrize("name", ["human\n", " padded", "tab\there", "", "x" * 101])
def test_names_are_matched_whole(runtime: Runtime, name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        runtime.create_agent(AgentSpec(name=name))
    assert info.value.field == "name"


def test_block_labels_are_matched_whole(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match="label"):
        runtime.create_agent(AgentSpec(name="a", blocks=[BlockSpec("human\n")]))


def test_default_blocks_fill_the_ones_not_given(runtime: Runtime) -> None:
    only_human = runtime.create_agent(AgentSpec(name="h", human="Name: Ada"))
    assert {b.label: b.value for b in runtime.blocks(only_human.id)} == {
        "persona": "I am a helpful assistant with a long memory.",
        "human": "Name: Ada",
    }
    only_persona = runtime.create_agent(AgentSpec(name="p", blocks=[BlockSpec("persona", "Bo")]))
    assert [b.label for b in runtime.blocks(only_persona.id)] == ["persona", "human"]
    shared = runtime.create_block(BlockSpec("human", "shared facts"))
    with_shared = runtime.create_agent(AgentSpec(name="s", block_ids=[shared.id]))
    labels = {b.label: b.value for b in runtime.blocks(with_shared.id)}
    assert labels["human"] == "shared facts" and "persona" in labels


def test_agents_are_listed_oldest_first_across_pages(runtime: Runtime) -> None:
    made = [runtime.create_agent(AgentSpec(name=f"a{i}")).id for i in range(5)]
    first = runtime.list_agents(limit=2)
    second = runtime.list_agents(limit=2, after=first[-1].id)
    third = runtime.list_agents(limit=2, after=second[-1].id)
    assert [a.id for a in first + second + third] == made  # ids are random; order is creation


def test_over_long_instructions_and_descriptions_are_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as info:
        runtime.create_agent(AgentSpec(name="s", system="x" * 20_001))
    assert info.value.field == "system" and "20000" in info.value.message
    with pytest.raises(InvalidInput) as info:
        runtime.create_agent(
            AgentSpec(name="d", blocks=[BlockSpec("notes", description="x" * 1001)])
        )
    assert info.value.field == "description"
