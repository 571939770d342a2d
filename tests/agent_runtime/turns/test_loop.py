from __future__ import annotations

import json

import pytest
from sqlmodel import Session, col, select

from agent_runtime.core.errors import InvalidInput, NotFound, ProviderError, ProviderTimeout
from agent_runtime.core.specs import AgentSpec, BlockSpec
from agent_runtime.llm import ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Message


def make_agent(runtime: Runtime, **kw: object) -> str:
    spec = AgentSpec(
        name="a",
        blocks=[BlockSpec("persona", "I help."), BlockSpec("human", "", limit=60)],
        **kw,  # type: ignore[arg-type]
    )
    return runtime.create_agent(spec).id


def test_a_plain_reply_ends_the_turn(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agent_id = make_agent(runtime)
    fake_llm.reply("Hello!")
    result = runtime.send(agent_id, ["hi"])
    assert result.stop_reason == "end_turn"
    assert [(m.role, m.content) for m in result.messages] == [
        ("user", "hi"),
        ("assistant", "Hello!"),
    ]
    request = fake_llm.requests[0]
    assert request.messages[0]["role"] == "system"
    assert "<persona" in request.messages[0]["content"]
    assert request.messages[-1] == {"role": "user", "content": "hi"}
    assert {t["function"]["name"] for t in request.tools} >= {"core_memory_append"}


def test_core_memory_append_edits_the_block_and_the_next_prompt(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = make_agent(runtime)
    fake_llm.reply(core_memory_append={"label": "human", "content": "Name: Ada"})
    fake_llm.reply("Nice to meet you, Ada.")
    result = runtime.send(agent_id, ["I'm Ada"])
    assert result.steps == 2
    assert runtime.block(agent_id, "human").value == "Name: Ada"
    second = fake_llm.requests[1]
    assert "Name: Ada" in second.messages[0]["content"]
    tool_message = second.messages[-1]
    assert tool_message["role"] == "tool"
    assert tool_message["tool_call_id"] == second.messages[-2]["tool_calls"][0]["id"]


def test_tool_errors_go_back_to_the_model_which_can_correct_itself(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = make_agent(runtime)
    fake_llm.reply(core_memory_append={"label": "human", "content": "x" * 100})  # over 60
    fake_llm.reply(core_memory_append={"label": "humans", "content": "Ada"})  # unknown block
    fake_llm.push(ChatResponse(tool_calls=[fake_llm.call("core_memory_append", "{oops")]))
    fake_llm.push(ChatResponse(tool_calls=[fake_llm.call("delete_everything", {})]))
    fake_llm.reply(core_memory_append={"label": "human", "content": "Ada"})
    fake_llm.reply("done")
    result = runtime.send(agent_id, ["I'm Ada"])
    tool_results = [m.content for m in result.messages if m.role == "tool"]
    assert "over its limit of 60" in tool_results[0] and "100 characters" in tool_results[0]
    assert "no block 'humans'" in tool_results[1] and "human" in tool_results[1]
    assert "not valid JSON" in tool_results[2]
    assert "unknown tool 'delete_everything'" in tool_results[3]
    assert tool_results[4].startswith("appended")
    assert result.stop_reason == "end_turn"
    assert runtime.block(agent_id, "human").value == "Ada"


def test_replace_and_archival_tools(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agent_id = make_agent(runtime)
    fake_llm.reply(core_memory_append={"label": "human", "content": "Lives in Porto"})
    fake_llm.reply(
        core_memory_replace={"label": "human", "old_content": "Porto", "new_content": "Lisbon"}
    )
    fake_llm.reply(
        archival_memory_insert={"content": "Ada's cat is called Pixel", "tags": ["pets"]}
    )
    fake_llm.reply(archival_memory_search={"query": "cat name", "tags": ["pets"]})
    fake_llm.reply("ok")
    result = runtime.send(agent_id, ["I moved house to Lisbon"])
    tools = [m for m in result.messages if m.role == "tool"]
    assert runtime.block(agent_id, "human").value == "Lives in Lisbon"
    assert tools[2].content.startswith("stored as passage")
    found = json.loads(tools[3].content)["results"]
    assert found[0]["content"] == "Ada's cat is called Pixel"
    assert found[0]["tags"] == ["pets"] and "timestamp" in found[0]
    fake_llm.reply(conversation_search={"query": "where did I move house to?"})
    fake_llm.reply("Lisbon")
    result = runtime.send(agent_id, ["where did I move house to?"])
    recalled = json.loads(result.messages[2].content)["results"]
    said = [r for r in recalled if r["content"] == "I moved house to Lisbon"]
    assert said and said[0]["role"] == "user"
    # The turn's own messages are not results: the question just asked is no answer to itself.
    assert all("where did I move" not in r["content"] for r in recalled)


def test_max_steps_stops_a_looping_model(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    agent_id = make_agent(runtime, max_steps=3)
    for _ in range(5):
        fake_llm.reply(conversation_search={"query": "anything"})
    result = runtime.send(agent_id, ["loop"])
    assert result.stop_reason == "max_steps"
    assert result.steps == 3
    assert fake_llm.pending == 2
    assert runtime.get_agent(agent_id).last_stop_reason == "max_steps"
    assert runtime.send(agent_id, ["again"], max_steps=1).steps == 1


def test_provider_errors_surface_and_keep_committed_steps(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = make_agent(runtime)
    fake_llm.reply(core_memory_append={"label": "human", "content": "Ada"})
    fake_llm.push(ProviderTimeout("model timed out"))
    with pytest.raises(ProviderTimeout):
        runtime.send(agent_id, ["I'm Ada"])
    history = runtime.messages(agent_id)
    assert [m.role for m in history] == ["user", "assistant", "tool"]
    assert runtime.block(agent_id, "human").value == "Ada"
    assert runtime.get_agent(agent_id).last_stop_reason == "error"
    fake_llm.reply("back")
    assert runtime.send(agent_id, ["hello?"]).stop_reason == "end_turn"


def test_a_crash_mid_step_leaves_the_agent_before_the_step(
    runtime: Runtime, fake_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_id = make_agent(runtime)
    fake_llm.reply(
        core_memory_append={"label": "human", "content": "Ada"},
        archival_memory_insert={"content": "fact"},
    )

    def boom(*_a: object, **_k: object) -> str:
        raise RuntimeError("power cut")

    # The second tool call dies after the first has edited the block inside the transaction.
    registry = runtime.services.tools
    tool = registry.get("archival_memory_insert")
    monkeypatch.setitem(
        registry._tools, "archival_memory_insert", type(tool)(tool.name, boom, tool.schema)
    )
    with pytest.raises(RuntimeError):
        runtime.send(agent_id, ["I'm Ada"])
    assert runtime.block(agent_id, "human").value == ""
    assert [m.role for m in runtime.messages(agent_id)] == ["user"]
    assert runtime.get_agent(agent_id).passage_count == 0
    assert runtime.get_agent(agent_id).lease_owner is None


def test_bad_input_is_refused_before_anything_is_written(runtime: Runtime) -> None:
    agent_id = make_agent(runtime)
    with pytest.raises(InvalidInput, match="empty"):
        runtime.send(agent_id, ["   "])
    with pytest.raises(InvalidInput, match="role"):
        runtime.send(agent_id, [("assistant", "hi")])
    with pytest.raises(NotFound):
        runtime.send("agent-missing", ["hi"])
    assert runtime.messages(agent_id) == []


def test_every_message_is_kept_in_order_with_tool_call_ids(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = make_agent(runtime)
    fake_llm.reply("one")
    fake_llm.reply(conversation_search={"query": "one"})
    fake_llm.reply("two")
    runtime.send(agent_id, ["first"])
    runtime.send(agent_id, ["second"])
    with Session(runtime.engine) as session:
        query = select(Message).where(Message.agent_id == agent_id).order_by(col(Message.id))
        rows = list(session.exec(query))
    assert [r.role for r in rows] == ["user", "assistant", "user", "assistant", "tool", "assistant"]
    assert rows[4].tool_call_id == rows[3].tool_calls[0]["id"]  # type: ignore[index]
    assert all(r.tokens > 0 for r in rows)
    assert runtime.get_agent(agent_id).message_count == 6


def test_provider_error_from_summary_path_is_not_needed_for_small_chats(
    runtime: Runtime,
) -> None:
    # With no reply queued the scripted model fails loudly, and the turn reports it.
    agent_id = make_agent(runtime)
    with pytest.raises(ProviderError, match="no reply queued"):
        runtime.send(agent_id, ["hi"])


def test_huge_tool_results_are_cut_to_fit_the_window(
    runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = make_agent(runtime, context_window=3000)
    runtime.insert_passage(agent_id, "needle " * 3000)
    fake_llm.reply(archival_memory_search={"query": "needle"})
    fake_llm.reply("done")
    result = runtime.send(agent_id, ["find the needle"])
    tool = next(m for m in result.messages if m.role == "tool")
    assert len(tool.content) < 2000
    assert "more characters cut" in tool.content


def test_nul_from_the_model_is_not_stored(runtime: Runtime, fake_llm: ScriptedLLM) -> None:
    """PostgreSQL refuses NUL in text: a reply carrying one used to fail its step's commit."""
    agent_id = make_agent(runtime)
    fake_llm.reply(archival_memory_insert={"content": "a\x00b"})
    fake_llm.reply("ok\x00!")
    result = runtime.send(agent_id, ["hi"])
    assert result.messages[-1].content == "ok!"
    assert "\x00" not in (result.messages[1].tool_calls or [{}])[0]["function"]["arguments"]
    assert runtime.passages(agent_id)[0].text == "ab"
