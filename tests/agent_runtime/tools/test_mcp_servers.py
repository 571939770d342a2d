"""MCP servers in the runtime, with the fake client: what a refresh does to the tools, what a
call is sent, and settings that change after a server was saved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_runtime.core.errors import InvalidInput, ToolServerUnavailable
from agent_runtime.core.settings import Settings, ToolSecret
from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime
from agent_runtime.tools.mcp_client import FakeMcpClient, RemoteTool

URL = "http://mcp.internal/tools/mcp"
OBJECT = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


@pytest.fixture
def client() -> FakeMcpClient:
    return FakeMcpClient(
        tools=[RemoteTool("lookup", "Look a thing up", OBJECT), RemoteTool("ping", "", OBJECT)],
        handlers={"lookup": lambda args: f"found {args['q']}", "ping": lambda _a: "pong"},
    )


def make(settings: Settings, llm: ScriptedLLM, client: FakeMcpClient, **kw: object) -> Runtime:
    chosen: dict[str, object] = {
        "allowed_tool_urls": ("http://mcp.internal/tools/",),
        "tool_secrets": (ToolSecret("K", "k-value", "http://mcp.internal/tools/"),),
    }
    configured = settings.with_(**(chosen | kw))
    return Runtime(
        configured,
        llm=llm,
        embedder_factory=lambda _n: FakeEmbedder(),
        index=MemoryIndex(),
        mcp_client=client,
    )


@pytest.fixture
def rt(settings: Settings, fake_llm: ScriptedLLM, client: FakeMcpClient) -> Iterator[Runtime]:
    runtime = make(settings, fake_llm, client)
    yield runtime
    runtime.close()


def names(rt: Runtime) -> list[str]:
    return [t.name for t in rt.custom_tools.listing(tenant="default")]


def test_a_refresh_adds_updates_and_removes_tools(rt: Runtime, client: FakeMcpClient) -> None:
    made = rt.custom_tools.mcp.create({"name": "kb", "url": URL}, tenant="default")
    assert [t.name for t in made.tools] == ["kb__lookup", "kb__ping"]
    agent = rt.create_agent(AgentSpec(name="a")).id
    rt.custom_tools.attach(agent, "kb__ping", tenant="default")
    rt.custom_tools.attach(agent, "kb__lookup", tenant="default")
    lookup_id = made.tools[0].id

    wider = {**OBJECT, "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}}
    client.tools = [
        RemoteTool("lookup", "Look up, better", wider),  # changed
        RemoteTool("fetch", "Fetch a page", OBJECT),  # new; ping is gone
        RemoteTool("has space", "", OBJECT),
        RemoteTool("flat", "", {"type": "string"}),
    ]
    again = rt.custom_tools.mcp.refresh("kb", tenant="default")
    assert names(rt) == ["kb__fetch", "kb__lookup"]
    lookup = next(t for t in again.tools if t.name == "kb__lookup")
    assert lookup.id == lookup_id and lookup.description == "Look up, better"
    assert "n" in lookup.parameters["properties"]
    assert [t.name for t in rt.custom_tools.attached(agent)] == ["kb__lookup"]  # ping detached
    assert len(again.server.skipped) == 2
    assert "'has space'" in again.server.skipped[0] and "'flat'" in again.server.skipped[1]


def test_a_call_resolves_secrets_and_checks_arguments_first(
    rt: Runtime, client: FakeMcpClient, fake_llm: ScriptedLLM
) -> None:
    rt.custom_tools.mcp.create(
        {"name": "kb", "url": URL, "headers": {"Authorization": "Bearer ${secret:K}"}},
        tenant="default",
    )
    agent = rt.create_agent(AgentSpec(name="a")).id
    rt.custom_tools.attach(agent, "kb__lookup", tenant="default")
    fake_llm.reply(kb__lookup={"q": 7}).reply(kb__lookup={"q": "otters"}).reply("done")
    rt.send(agent, ["look up otters"])
    ((endpoint, tool, arguments),) = client.calls  # the bad call never went out
    assert (tool, arguments) == ("lookup", {"q": "otters"})
    assert endpoint.headers == {"Authorization": "Bearer k-value"}
    assert "k-value" not in repr(endpoint)
    results = [m["content"] for m in fake_llm.requests[-1].messages if m["role"] == "tool"]
    assert "invalid arguments" in results[0] and results[1] == "found otters"


def test_a_server_that_is_down_saves_nothing(rt: Runtime, client: FakeMcpClient) -> None:
    client.down = True
    with pytest.raises(ToolServerUnavailable, match="could not list its tools"):
        rt.custom_tools.mcp.create({"name": "kb", "url": URL}, tenant="default")
    assert rt.custom_tools.mcp.listing(tenant="default") == [] and names(rt) == []


def test_a_server_no_longer_allowed_is_not_called(
    settings: Settings, fake_llm: ScriptedLLM, client: FakeMcpClient, rt: Runtime
) -> None:
    rt.custom_tools.mcp.create({"name": "kb", "url": URL}, tenant="default")
    agent = rt.create_agent(AgentSpec(name="a")).id
    rt.custom_tools.attach(agent, "kb__ping", tenant="default")
    rt.close()
    narrowed = make(settings, fake_llm, client, allowed_tool_urls=("http://elsewhere/",))
    try:
        fake_llm.reply(kb__ping={"q": "x"}).reply("ok")
        narrowed.send(agent, ["ping"])
        assert client.calls == []
        result = [m for m in fake_llm.requests[-1].messages if m["role"] == "tool"][0]
        assert "may not be called on this server any more" in result["content"]
        with pytest.raises(InvalidInput, match="RECALLD_ALLOWED_TOOL_URLS"):
            narrowed.custom_tools.mcp.refresh("kb", tenant="default")
    finally:
        narrowed.close()
