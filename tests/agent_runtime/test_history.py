"""Every writer of a core memory block leaves a version; restore is a new version; archival
memory records inserts and deletes; an agent's memory as of a time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from agent_runtime.core.errors import LimitExceeded, NotFound
from agent_runtime.core.specs import AgentSpec, BlockPatch, BlockSpec, FactInput, Scope
from agent_runtime.llm.scripted import ScriptedLLM, echo_summary
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import PassageEvent


def test_every_writer_leaves_a_version(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agent = runtime.create_agent(AgentSpec(name="h", blocks=[BlockSpec("human", "", 100)])).id
    runtime.update_block(agent, "human", BlockPatch(value="Name: Ada"))  # REST PATCH by label
    fake_llm.reply(core_memory_append={"label": "human", "content": "Lives in Porto"})
    fake_llm.reply("noted")
    turn = runtime.send(agent, ["I live in Porto"])  # the agent's own tool
    block = runtime.block(agent, "human")
    runtime.patch_block(block.id, BlockPatch(limit=200))  # by id: the limit changes
    _, versions = runtime.history.versions("default", "human", agent_id=agent)
    assert [(v.version, v.actor) for v in versions] == [
        (4, "api"),
        (3, "agent"),
        (2, "api"),
        (1, "api"),
    ]
    assert versions[1].turn_id == turn.turn_id and versions[1].agent_id == agent
    assert versions[1].value == "Name: Ada\nLives in Porto" and versions[2].value == "Name: Ada"
    assert (versions[0].limit, versions[1].limit) == (200, 100)


def test_a_shared_blocks_edit_is_one_version_seen_from_every_agent(runtime: Runtime) -> None:
    shared = runtime.create_block(BlockSpec("team", "v1"))
    first = runtime.create_agent(AgentSpec(name="a", block_ids=[shared.id])).id
    second = runtime.create_agent(AgentSpec(name="b", block_ids=[shared.id])).id
    runtime.update_block(first, "team", BlockPatch(value="v2"))
    by_second = runtime.history.versions("default", "team", agent_id=second)[1]
    by_id = runtime.history.versions("default", shared.id)[1]
    assert [v.value for v in by_second] == [v.value for v in by_id] == ["v2", "v1"]


def test_restore_is_a_new_version_and_limits_still_apply(runtime: Runtime) -> None:
    agent = runtime.create_agent(AgentSpec(name="r", blocks=[BlockSpec("notes", "good", 50)])).id
    runtime.update_block(agent, "notes", BlockPatch(value="bad edit"))
    block, newest = runtime.history.restore("default", "notes", 1, agent_id=agent)
    assert block.value == "good" and (newest.version, newest.restored_from) == (3, 1)
    assert "good" in runtime.get_agent(agent).system_prompt  # the prompt follows
    runtime.update_block(agent, "notes", BlockPatch(value="x" * 40))
    runtime.update_block(agent, "notes", BlockPatch(value="short", limit=10))
    with pytest.raises(LimitExceeded):
        runtime.history.restore("default", "notes", 4, agent_id=agent)
    assert runtime.block(agent, "notes").value == "short"
    with pytest.raises(NotFound):
        runtime.history.restore("default", "notes", 99, agent_id=agent)
    with pytest.raises(NotFound):  # another tenant's block is not found, by label or id
        runtime.history.versions("other", "notes", agent_id=agent)
    with pytest.raises(NotFound):
        runtime.history.versions("other", block.id)


def test_archival_memory_records_inserts_and_deletes(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent = runtime.create_agent(AgentSpec(name="p")).id
    kept = runtime.insert_passage(agent, "kept")
    gone = runtime.insert_passage(agent, "a secret plan")
    runtime.delete_passage(agent, gone.id or 0)
    fake_llm.reply(archival_memory_insert={"content": "from the agent"})
    fake_llm.reply("ok")
    turn = runtime.send(agent, ["remember this"])
    events = runtime.history.passages("default", agent)
    assert [(e.event, e.actor) for e in events] == [
        ("inserted", "api"),
        ("inserted", "api"),
        ("deleted", "api"),
        ("inserted", "agent"),
    ]
    assert events[0].passage_id == kept.id and events[2].text == "a secret plan"
    assert events[3].turn_id == turn.turn_id


def test_paging_files_its_passages_in_the_trail(runtime: Runtime) -> None:
    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=echo_summary)
    agent = runtime.create_agent(
        AgentSpec(name="pg", context_window=2000, blocks=[BlockSpec("human", "Ada")])
    ).id
    for i in range(30):
        runtime.send(agent, [f"fact number {i}: the locker code is {1000 + i}"])
    with Session(runtime.engine) as session:
        actors = set(session.exec(select(PassageEvent.actor).where(PassageEvent.agent_id == agent)))
    assert actors == {"paging"}


def test_memory_as_of_a_time(runtime: Runtime) -> None:
    agent = runtime.create_agent(AgentSpec(name="t", blocks=[BlockSpec("human", "Porto")])).id
    scope = Scope(agent_id=agent)
    runtime.facts.write(
        "default",
        [
            FactInput(
                subject="user",
                attribute="lives_in",
                value="Porto",
                valid_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
        ],
        scope,
    )
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    runtime.update_block(agent, "human", BlockPatch(value="Lisbon"))
    runtime.facts.write(
        "default", [FactInput(subject="user", attribute="lives_in", value="Lisbon")], scope
    )
    then = runtime.history.as_of("default", agent, between)
    assert {b.label: b.version.value for b in then.blocks}["human"] == "Porto"
    assert [f.value for f in then.facts] == ["Porto"]
    now = runtime.history.as_of("default", agent, datetime.now(UTC))
    assert {b.label: b.version.value for b in now.blocks}["human"] == "Lisbon"
    assert [f.value for f in now.facts] == ["Lisbon"]
    before = runtime.history.as_of("default", agent, datetime(2019, 1, 1, tzinfo=UTC))
    assert before.blocks == [] and before.facts == []
