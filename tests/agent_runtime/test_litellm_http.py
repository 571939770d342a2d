"""End to end through litellm's real HTTP path against an OpenAI-compatible stub on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.errors import ProviderBadRequest, ProviderRateLimited
from agent_runtime.runtime import Runtime
from agent_runtime.settings import Settings
from agent_runtime.specs import AgentSpec, BlockSpec
from agent_runtime.vector_index import MemoryIndex


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def real_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    rt = Runtime(
        Settings(home=tmp_path), embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex()
    )
    yield rt
    rt.close()


def test_tool_calls_round_trip_over_the_wire(real_runtime: Runtime, stub: OpenAIStub) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(
            name="wire",
            model="openai/gpt-4o-mini",
            model_base_url=stub.url,
            blocks=[BlockSpec("human", "")],
        )
    ).id
    stub.reply(None, core_memory_append={"label": "human", "content": "Name: Ada"})
    stub.reply("Hello Ada!")
    result = real_runtime.send(agent_id, ["My name is Ada"])
    assert result.messages[-1].content == "Hello Ada!"
    assert real_runtime.block(agent_id, "human").value == "Name: Ada"
    assert result.usage.prompt_tokens == 22 and result.usage.completion_tokens == 14
    first, second = stub.requests[0]["body"], stub.requests[1]["body"]
    assert stub.requests[0]["path"].endswith("/chat/completions")
    assert stub.requests[0]["auth"] == "Bearer sk-test-not-a-real-key"
    assert {t["function"]["name"] for t in first["tools"]} >= {"core_memory_append"}
    assert first["messages"][0]["role"] == "system"
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "core_memory_append"
    assert second["messages"][-1]["role"] == "tool"
    assert second["messages"][-1]["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]


def test_provider_errors_are_translated(real_runtime: Runtime, stub: OpenAIStub) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(name="wire", model="openai/gpt-4o-mini", model_base_url=stub.url)
    ).id
    stub.fail(429, "slow down", "rate_limit_exceeded")
    with pytest.raises(ProviderRateLimited):
        real_runtime.send(agent_id, ["hi"])
    stub.fail(400, "bad tool schema")
    with pytest.raises(ProviderBadRequest):
        real_runtime.send(agent_id, ["hi"])


def test_a_context_overflow_from_the_provider_pages_and_retries(
    real_runtime: Runtime, stub: OpenAIStub
) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(name="wire", model="openai/gpt-4o-mini", model_base_url=stub.url)
    ).id
    for i in range(3):
        stub.reply(f"answer {i}")
        real_runtime.send(agent_id, [f"question {i}"])
    stub.fail(
        400,
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9000 tokens.",
        "context_length_exceeded",
    )
    stub.reply("a short summary")  # the summariser
    stub.reply("fits now")
    result = real_runtime.send(agent_id, ["question 3"])
    assert result.messages[-1].content == "fits now"
    assert "a short summary" in stub.requests[-1]["body"]["messages"][0]["content"]
