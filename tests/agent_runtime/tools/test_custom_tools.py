from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tool_server import ToolServer

from agent_runtime.core.errors import Conflict, InvalidInput, NotFound
from agent_runtime.core.settings import Settings, ToolSecret
from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime

PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def forecast(path: str, body: dict[str, Any]) -> tuple[int, str]:
    return 200, json.dumps({"city": body["city"], "forecast": "sunny"})


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with ToolServer(forecast) as s:
        yield s


@pytest.fixture
def rt(settings: Settings, fake_llm: ScriptedLLM, server: ToolServer) -> Iterator[Runtime]:
    configured = settings.with_(
        allowed_tool_urls=(server.url + "/",),
        tool_secrets=(ToolSecret("WX", "s3cret", server.url + "/weather"),),
    )
    runtime = Runtime(
        configured,
        llm=fake_llm,
        embedder_factory=lambda _name: FakeEmbedder(),
        index=MemoryIndex(),
    )
    try:
        yield runtime
    finally:
        runtime.close()


def weather(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "weather",
        "description": "The forecast for a city",
        "parameters": PARAMS,
        "url": url + "/weather",
        "headers": {"Authorization": "Bearer ${secret:WX}"},
    } | extra


def test_an_agent_calls_an_attached_tool_and_the_model_sees_its_schema(
    rt: Runtime, fake_llm: ScriptedLLM, server: ToolServer
) -> None:
    agent = rt.create_agent(AgentSpec(name="a"))
    rt.custom_tools.create(weather(server.url), tenant="default")
    rt.custom_tools.attach(agent.id, "weather", tenant="default")
    fake_llm.reply(weather={"city": "Oslo"}).reply(weather={"town": "Oslo"}).reply("Sunny.")
    result = rt.send(agent.id, ["Weather in Oslo?"])
    tools = [t["function"]["name"] for t in fake_llm.requests[0].tools]
    assert "weather" in tools and "core_memory_append" in tools
    results = [m.content for m in result.messages if m.role == "tool"]
    assert json.loads(results[0]) == {"city": "Oslo", "forecast": "sunny"}
    assert results[1].startswith("Error: invalid arguments for weather")
    assert result.stop_reason == "end_turn"
    assert server.requests[0][1]["Authorization"] == "Bearer s3cret"
    assert len(server.requests) == 1  # the invalid call never left the server
    assert all("s3cret" not in json.dumps(r.messages) for r in fake_llm.requests)


def test_detached_tools_are_gone_from_the_next_turn(
    rt: Runtime, fake_llm: ScriptedLLM, server: ToolServer
) -> None:
    agent = rt.create_agent(AgentSpec(name="a"))
    tool = rt.custom_tools.create(weather(server.url), tenant="default")
    rt.custom_tools.attach(agent.id, tool.id, tenant="default")
    rt.custom_tools.detach(agent.id, "weather", tenant="default")
    fake_llm.reply("ok")
    rt.send(agent.id, ["hi"])
    assert "weather" not in [t["function"]["name"] for t in fake_llm.requests[0].tools]


def test_names_urls_and_secrets_are_checked_when_saved(rt: Runtime, server: ToolServer) -> None:
    tools = rt.custom_tools
    tools.create(weather(server.url), tenant="default")
    with pytest.raises(Conflict, match="exists"):
        tools.create(weather(server.url), tenant="default")
    tools.create(weather(server.url), tenant="other")  # names are per tenant
    with pytest.raises(Conflict, match="built-in"):
        tools.create(weather(server.url, name="archival_memory_search"), tenant="default")
    with pytest.raises(InvalidInput, match="RECALLD_ALLOWED_TOOL_URLS"):
        tools.create(weather("http://169.254.169.254", name="meta"), tenant="default")
    with pytest.raises(InvalidInput, match="NOPE"):
        tools.create(
            weather(server.url, name="w2", headers={"X": "${secret:NOPE}"}), tenant="default"
        )
    with pytest.raises(InvalidInput, match="RECALLD_ALLOWED_TOOL_URLS"):
        tools.update("weather", {"url": "http://elsewhere.local/"}, tenant="default")
    assert tools.get("weather", tenant="default").url == server.url + "/weather"


def test_another_tenants_tool_and_agent_are_not_found(rt: Runtime, server: ToolServer) -> None:
    agent = rt.create_agent(AgentSpec(name="a"), tenant="other")
    mine = rt.custom_tools.create(weather(server.url), tenant="default")
    with pytest.raises(NotFound):
        rt.custom_tools.get(mine.id, tenant="other")
    with pytest.raises(NotFound):
        rt.custom_tools.attach(agent.id, mine.id, tenant="default")
    rt.custom_tools.delete("weather", tenant="default")
    with pytest.raises(NotFound):
        rt.custom_tools.get(mine.id, tenant="default")
