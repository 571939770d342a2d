"""MCP servers over REST, against a real MCP server (the official SDK) on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp_tool_server import McpToolServer
from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.core.settings import Settings, ToolSecret
from agent_runtime.jobs.worker import Worker
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys

SCRIPT = str(Path(__file__).parents[1] / "support" / "mcp_tool_server.py")


@pytest.fixture(scope="module")
def mcp() -> Iterator[McpToolServer]:
    with McpToolServer() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, mcp: McpToolServer) -> Settings:
    base = mcp.url.rsplit("/", 1)[0] + "/"
    return settings.with_(
        allowed_tool_urls=(base,),
        tool_secrets=(ToolSecret("MCPKEY", "mcp-s3cret", mcp.url),),
        mcp_commands=(sys.executable,),
    )


def register(client: TestClient, mcp: McpToolServer, **extra: Any) -> Any:
    return client.post("/v1/mcp-servers", json={"name": "loop", "url": mcp.url} | extra)


def prompt_tool_results(llm: ScriptedLLM) -> list[str]:
    return [m["content"] for m in llm.requests[-1].messages if m["role"] == "tool"]


def test_a_servers_tools_are_listed_attached_and_called_in_a_turn(
    client: TestClient, mcp: McpToolServer, fake_llm: ScriptedLLM
) -> None:
    made = register(client, mcp, headers={"Authorization": "Bearer ${secret:MCPKEY}"})
    assert made.status_code == 201, made.text
    server = made.json()
    assert [t["name"] for t in server["tools"]] == ["loop__add", "loop__explode", "loop__forecast"]
    add = server["tools"][0]
    assert add["description"] == "Add two whole numbers." and add["mcp_server"] == server["id"]
    assert add["parameters"]["required"] == ["a", "b"]
    assert server["headers"] == {"Authorization": "Bearer ${secret:MCPKEY}"}
    assert "mcp-s3cret" not in made.text
    assert mcp.headers[-1]["authorization"] == "Bearer mcp-s3cret"  # sent, never shown

    agent = client.post("/v1/agents", json={"name": "a"}).json()["id"]
    for tool in ("loop__add", "loop__explode"):
        assert client.post(f"/v1/agents/{agent}/tools/{tool}").status_code == 200
    calls = len(mcp.headers)
    fake_llm.reply(loop__add={"a": 2, "b": "three"})  # refused before any request
    fake_llm.reply(loop__explode={})
    fake_llm.reply(loop__add={"a": 2, "b": 3})
    fake_llm.reply("2 + 3 is 5")
    turn = client.post(f"/v1/agents/{agent}/messages", json={"messages": [{"content": "2+3?"}]})
    assert turn.status_code == 200, turn.text
    assert turn.json()["messages"][-1]["content"] == "2 + 3 is 5"
    invalid, broke, answered = prompt_tool_results(fake_llm)
    assert "invalid arguments for loop__add: b" in invalid
    assert "explode failed" in broke and "Error executing tool explode" in broke
    assert answered == "5"
    assert len(mcp.headers) > calls
    listed = {t["function"]["name"] for t in fake_llm.requests[-1].tools}
    assert {"loop__add", "loop__explode"} <= listed and "loop__forecast" not in listed


def test_bad_servers_are_refused_and_save_nothing(client: TestClient, mcp: McpToolServer) -> None:
    cases = [
        ({"url": "http://169.254.169.254/mcp"}, 422, "RECALLD_ALLOWED_TOOL_URLS"),
        ({"url": mcp.url, "headers": {"X": "${secret:NOPE}"}}, 422, "NOPE"),
        ({"url": None}, 422, "needs a url"),
        ({"name": "has space"}, 422, "name"),
        ({"name": "n" * 25}, 422, "name"),
        (
            {"transport": "stdio", "url": None, "command": ["/bin/sh", "-c", "id"]},
            422,
            "MCP_COMMANDS",
        ),
        ({"transport": "carrier-pigeon"}, 422, "transport"),
    ]
    for extra, status, says in cases:
        r = register(client, mcp, **extra)
        assert r.status_code == status, (extra, r.text)
        assert says in r.text, (extra, r.text)
    assert client.get("/v1/mcp-servers").json()["data"] == []
    assert client.get("/v1/tools").json()["data"] == []


def test_a_server_that_is_down_is_a_502_naming_it(client: TestClient, mcp: McpToolServer) -> None:
    down = mcp.url.replace("/mcp", "/nothing-here")
    r = register(client, mcp, url=down)
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "tool_server_unavailable"
    assert "'loop'" in r.json()["error"]["message"]
    assert client.get("/v1/mcp-servers").json()["data"] == []


def test_a_servers_tools_follow_it(client: TestClient, mcp: McpToolServer) -> None:
    server = register(client, mcp).json()
    agent = client.post("/v1/agents", json={"name": "a"}).json()["id"]
    client.post(f"/v1/agents/{agent}/tools/loop__forecast")
    assert client.post("/v1/mcp-servers", json={"name": "loop", "url": mcp.url}).status_code == 409
    assert client.patch("/v1/tools/loop__add", json={"description": "x"}).status_code == 409
    assert client.delete("/v1/tools/loop__add").status_code == 409
    refreshed = client.post(f"/v1/mcp-servers/{server['id']}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert [t["id"] for t in refreshed.json()["tools"]] == [t["id"] for t in server["tools"]]
    assert client.get("/v1/mcp-servers/loop").json()["id"] == server["id"]
    assert client.delete("/v1/mcp-servers/loop").status_code == 204
    assert client.get("/v1/tools").json()["data"] == []
    assert client.get("/v1/mcp-servers/loop").status_code == 404
    before = client.get(f"/v1/agents/{agent}/context").json()["tools"]
    fresh = client.post("/v1/agents", json={"name": "b"}).json()["id"]
    assert client.get(f"/v1/agents/{fresh}/context").json()["tools"] == before  # detached


def test_another_tenant_cannot_see_or_touch_a_server(
    app: Starlette, runtime: Runtime, mcp: McpToolServer
) -> None:
    acme, globex = keys.create(runtime.engine, "acme"), keys.create(runtime.engine, "globex")
    as_acme = {"Authorization": f"Bearer {acme}"}
    as_globex = {"Authorization": f"Bearer {globex}"}
    with TestClient(app, client=("10.1.2.3", 1)) as client:
        made = client.post(
            "/v1/mcp-servers", json={"name": "loop", "url": mcp.url}, headers=as_acme
        ).json()
        for path in (f"/v1/mcp-servers/{made['id']}", "/v1/mcp-servers/loop"):
            assert client.get(path, headers=as_globex).status_code == 404
            assert client.delete(path, headers=as_globex).status_code == 404
            assert client.post(path + "/refresh", headers=as_globex).status_code == 404
        assert client.get("/v1/mcp-servers", headers=as_globex).json()["data"] == []
        theirs = client.post("/v1/agents", json={"name": "g"}, headers=as_globex).json()["id"]
        stolen = client.post(f"/v1/agents/{theirs}/tools/loop__add", headers=as_globex)
        assert stolen.status_code == 404
        # Its own server of the same name is a different one.
        own = client.post(
            "/v1/mcp-servers", json={"name": "loop", "url": mcp.url}, headers=as_globex
        )
        assert own.status_code == 201 and own.json()["id"] != made["id"]
        assert client.get("/v1/mcp-servers/loop", headers=as_acme).json()["id"] == made["id"]


def test_a_local_command_server_over_stdio(
    client: TestClient, fake_llm: ScriptedLLM, mcp: McpToolServer
) -> None:
    made = client.post(
        "/v1/mcp-servers",
        json={
            "name": "local",
            "transport": "stdio",
            "command": [sys.executable, SCRIPT, "--stdio"],
        },
    )
    assert made.status_code == 201, made.text
    assert "local__forecast" in [t["name"] for t in made.json()["tools"]]
    agent = client.post("/v1/agents", json={"name": "a"}).json()["id"]
    client.post(f"/v1/agents/{agent}/tools/local__forecast")
    fake_llm.reply(local__forecast={"city": "Oslo"}).reply("Sunny.")
    client.post(f"/v1/agents/{agent}/messages", json={"messages": [{"content": "weather?"}]})
    assert prompt_tool_results(fake_llm) == ["sunny in Oslo, 21 C"]


def test_a_server_on_the_older_sse_transport(
    client: TestClient, runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    with McpToolServer("sse") as old:
        runtime.custom_tools.mcp.policy = replace(
            runtime.custom_tools.mcp.policy, allowed_urls=(old.url.rsplit("/", 1)[0] + "/",)
        )
        made = client.post(
            "/v1/mcp-servers", json={"name": "old", "url": old.url, "transport": "sse"}
        )
        assert made.status_code == 201, made.text
        assert made.json()["transport"] == "sse"
        agent = client.post("/v1/agents", json={"name": "a"}).json()["id"]
        client.post(f"/v1/agents/{agent}/tools/old__add")
        fake_llm.reply(old__add={"a": 40, "b": 2}).reply("42")
        client.post(f"/v1/agents/{agent}/messages", json={"messages": [{"content": "40+2?"}]})
        assert prompt_tool_results(fake_llm) == ["42"]


def test_a_job_uses_a_custom_tool_over_several_steps(
    client: TestClient, runtime: Runtime, fake_llm: ScriptedLLM, mcp: McpToolServer
) -> None:
    register(client, mcp)
    agent = client.post("/v1/agents", json={"name": "sums"}).json()["id"]
    client.post(f"/v1/agents/{agent}/tools/loop__add")
    job = client.post(f"/v1/agents/{agent}/jobs", json={"goal": "add 1+2+3+4", "max_steps": 6})
    fake_llm.reply(loop__add={"a": 1, "b": 2})
    fake_llm.reply(loop__add={"a": 3, "b": 3})
    fake_llm.reply(loop__add={"a": 6, "b": 4})
    fake_llm.reply(complete_job={"result": "10"})
    runtime.settings = runtime.settings.with_(worker_poll_seconds=0.01)
    Worker(runtime).run_once()
    done = client.get(f"/v1/jobs/{job.json()['id']}").json()
    assert (done["status"], done["result"], done["steps"]) == ("succeeded", "10", 4)
    results = [m["content"] for m in fake_llm.requests[-1].messages if m["role"] == "tool"]
    assert results == ["3", "6", "10"]
