from __future__ import annotations

from pathlib import Path

from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime


def test_the_offline_model_drives_the_memory_tools(tmp_path: Path) -> None:
    runtime = Runtime(
        Settings(home=tmp_path), embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex()
    )
    agent_id = runtime.create_agent(AgentSpec(name="o")).id  # model defaults to offline
    assert runtime.get_agent(agent_id).model == "offline"

    runtime.send(agent_id, ["My name is Ada and I live in Lisbon"])
    assert "My name is Ada" in runtime.block(agent_id, "human").value

    answer = runtime.send(agent_id, ["What is my name?"]).messages[-1].content
    assert "Ada" in answer

    long_text = "The warehouse inventory code for the blue widgets is BW-4471. " * 12
    runtime.send(agent_id, [long_text])
    assert any("BW-4471" in p.text for p in runtime.passages(agent_id))

    reply = runtime.send(agent_id, ["Which inventory code do the blue widgets have?"])
    tools = [m.tool_calls[0]["function"]["name"] for m in reply.messages if m.tool_calls]
    assert tools == ["archival_memory_search"]
    assert "BW-4471" in reply.messages[-1].content

    reply = runtime.send(agent_id, ["hello there"])
    assert reply.messages[-1].content.startswith("Noted.")
    runtime.close()


def test_the_offline_model_answers_from_remembered_facts(tmp_path: Path) -> None:
    runtime = Runtime(
        Settings(home=tmp_path), embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex()
    )
    agent_id = runtime.create_agent(AgentSpec(name="o", memory_ttl=None)).id
    runtime.send(agent_id, ["I live in Porto"])
    runtime.send(agent_id, ["Big news, I moved to Lisbon!"])
    while runtime.pipeline.run_once() is not None:  # the offline rules extract the facts
        pass
    answer = runtime.send(agent_id, ["Where do I live now?"]).messages[-1].content
    assert answer == "From what I remember: user lives in Lisbon"
    runtime.close()
