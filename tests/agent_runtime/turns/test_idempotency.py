"""Idempotent sends: a retry with the same key returns the saved turn instead of a new one."""

from __future__ import annotations

import pytest
from sqlmodel import select

from agent_runtime.core.errors import Conflict, InvalidInput, LimitExceeded, ProviderError
from agent_runtime.core.specs import AgentSpec
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import IdempotencyKey


def test_a_retry_returns_the_saved_turn(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="i")).id
    fake_llm.reply(core_memory_append={"label": "human", "content": "Name: Ada"})
    fake_llm.reply("Hello Ada")
    first = runtime.send(agent_id, ["I am Ada"], idempotency_key="req-1")
    again = runtime.send(agent_id, ["I am Ada"], idempotency_key="req-1")
    assert not first.replayed and again.replayed
    assert again.turn_id == first.turn_id and again.stop_reason == "end_turn"
    assert [m.id for m in again.messages] == [m.id for m in first.messages]
    assert (again.steps, again.usage) == (first.steps, first.usage)
    assert len(runtime.messages(agent_id)) == 4  # nothing ran twice
    assert runtime.block(agent_id, "human").value == "Name: Ada"
    fake_llm.reply("another turn")
    assert not runtime.send(agent_id, ["I am Ada"], idempotency_key="req-2").replayed


def test_a_key_reused_for_other_input_is_a_conflict(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="i")).id
    fake_llm.reply("ok")
    runtime.send(agent_id, ["first question"], idempotency_key="k")
    with pytest.raises(Conflict, match="different request"):
        runtime.send(agent_id, ["another question"], idempotency_key="k")
    other = runtime.create_agent(AgentSpec(name="j")).id  # keys are per agent
    fake_llm.reply("fine")
    assert not runtime.send(other, ["another question"], idempotency_key="k").replayed


def test_a_failed_turn_is_replayed_as_it_ended(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="i")).id
    fake_llm.push(ProviderError("the model provider failed"))
    with pytest.raises(ProviderError):
        runtime.send(agent_id, ["hello"], idempotency_key="k")
    replay = runtime.send(agent_id, ["hello"], idempotency_key="k")
    assert replay.replayed and replay.stop_reason == "error"
    assert [m.content for m in replay.messages] == ["hello"]


def test_a_turn_whose_process_died_is_replayed_as_interrupted(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="i")).id
    fake_llm.reply("done")
    runtime.send(agent_id, ["hello"], idempotency_key="k")
    with transaction(runtime.engine) as session:  # as if the process died before the end
        stored = session.exec(select(IdempotencyKey).where(IdempotencyKey.key == "k")).one()
        stored.stop_reason = None
    replay = runtime.send(agent_id, ["hello"], idempotency_key="k")
    assert replay.replayed and replay.stop_reason == "interrupted"
    assert len(runtime.messages(agent_id)) == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "naïve"])
def test_keys_are_short_printable_ascii(runtime: Runtime, key: str) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="i")).id
    with pytest.raises(InvalidInput):
        runtime.send(agent_id, ["hello"], idempotency_key=key)


def test_messages_per_send_are_capped(runtime: Runtime) -> None:
    agent_id = runtime.create_agent(AgentSpec(name="i")).id
    with pytest.raises(LimitExceeded, match="RECALLD_MAX_MESSAGES_PER_SEND"):
        runtime.send(agent_id, ["x"] * 101)
    assert runtime.messages(agent_id) == []
