from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from tool_server import ToolServer

from agent_runtime.core.settings import Settings, ToolSecret
from agent_runtime.llm.scripted import ScriptedLLM


def forecast(path: str, body: dict[str, Any]) -> tuple[int, str]:
    return 200, json.dumps({"city": body["city"], "forecast": "sunny"})


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with ToolServer(forecast) as s:
        yield s


@pytest.fixture
def settings(settings: Settings, server: ToolServer) -> Settings:
    return settings.with_(
        allowed_tool_urls=(server.url + "/",),
        tool_secrets=(ToolSecret("WX", "s3cret", server.url + "/weather"),),
    )


def body(server: ToolServer, **extra: Any) -> dict[str, Any]:
    return {
        "name": "weather",
        "description": "The forecast for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "url": server.url + "/weather",
        "headers": {"Authorization": "Bearer ${secret:WX}"},
    } | extra


def test_tools_are_made_read_changed_and_deleted_without_showing_secrets(
    client: TestClient, server: ToolServer
) -> None:
    made = client.post("/v1/tools", json=body(server))
    assert made.status_code == 201, made.text
    tool = made.json()
    assert tool["headers"] == {"Authorization": "Bearer ${secret:WX}"}
    assert tool["method"] == "POST"
    assert client.get("/v1/tools/weather").json()["id"] == tool["id"]
    assert [t["name"] for t in client.get("/v1/tools").json()["data"]] == ["weather"]
    assert client.post("/v1/tools", json=body(server)).status_code == 409
    edited = client.patch(f"/v1/tools/{tool['id']}", json={"description": "Forecasts"})
    assert edited.json()["description"] == "Forecasts"
    for r in (client.get("/v1/tools"), edited, made):
        assert "s3cret" not in r.text
    assert client.delete("/v1/tools/weather").status_code == 204
    assert client.get(f"/v1/tools/{tool['id']}").status_code == 404


@pytest.mark.parametrize(
    ("extra", "status", "says"),
    [
        ({"url": "http://169.254.169.254/latest"}, 422, "RECALLD_ALLOWED_TOOL_URLS"),
        ({"url": "file:///etc/passwd"}, 422, "http"),
        ({"parameters": {"type": "object", "properties": {"a": {"type": 5}}}}, 422, "schema"),
        ({"headers": {"X": "${secret:NOPE}"}}, 422, "NOPE"),
        ({"url": "http://127.0.0.1:1/weather/../admin"}, 422, ".."),
        ({"name": "core_memory_append"}, 409, "built-in"),
        ({"name": "has space"}, 422, "name"),
        ({"method": "TRACE"}, 422, "method"),
        ({"description": "x" * 5000}, 422, "description"),
    ],
)
def test_bad_tools_are_refused(
    client: TestClient, server: ToolServer, extra: dict[str, Any], status: int, says: str
) -> None:
    r = client.post("/v1/tools", json=body(server, **extra))
    assert r.status_code == status, r.text
    assert says in r.text
    assert client.get("/v1/tools").json()["data"] == []


def test_an_attached_tool_is_called_in_a_turn(
    client: TestClient, server: ToolServer, fake_llm: ScriptedLLM
) -> None:
    agent = client.post("/v1/agents", json={"name": "a"}).json()
    client.post("/v1/tools", json=body(server))
    attached = client.post(f"/v1/agents/{agent['id']}/tools/weather")
    assert attached.status_code == 200, attached.text
    assert agent["tools"] == []
    assert client.get(f"/v1/agents/{agent['id']}").json()["tools"] == ["weather"]
    assert client.get("/v1/agents").json()["data"][0]["tools"] == ["weather"]
    fake_llm.reply(weather={"city": "Oslo"}).reply("Sunny in Oslo.")
    turn = client.post(
        f"/v1/agents/{agent['id']}/messages", json={"messages": [{"role": "user", "content": "?"}]}
    )
    assert turn.status_code == 200, turn.text
    assert "sunny" in turn.text
    assert server.requests[0][1]["Authorization"] == "Bearer s3cret"
    assert client.delete(f"/v1/agents/{agent['id']}/tools/weather").status_code == 204
    assert client.delete(f"/v1/agents/{agent['id']}/tools/weather").status_code == 404
    assert client.post("/v1/agents/agent-nope/tools/weather").status_code == 404


def test_an_attached_tool_schema_counts_in_the_context(
    client: TestClient, server: ToolServer
) -> None:
    agent = client.post("/v1/agents", json={"name": "a"}).json()
    client.post("/v1/tools", json=body(server))
    before = client.get(f"/v1/agents/{agent['id']}/context").json()
    client.post(f"/v1/agents/{agent['id']}/tools/weather")
    after = client.get(f"/v1/agents/{agent['id']}/context").json()
    assert after["tools"] > before["tools"]
    assert after["total"] - before["total"] == after["tools"] - before["tools"]
    client.delete(f"/v1/agents/{agent['id']}/tools/weather")
    assert client.get(f"/v1/agents/{agent['id']}/context").json()["tools"] == before["tools"]


def test_a_tool_cannot_aim_a_bound_secret_at_another_allowed_url(
    client: TestClient, server: ToolServer
) -> None:
    """WX is bound to /weather; /echo is allowed for tools too, but not for WX."""
    r = client.post("/v1/tools", json=body(server, url=server.url + "/echo"))
    assert r.status_code == 422, r.text
    assert "only be sent to URLs under" in r.json()["error"]["message"]
    assert client.post("/v1/tools", json=body(server)).status_code == 201
    moved = client.patch("/v1/tools/weather", json={"url": server.url + "/echo"})
    assert moved.status_code == 422, moved.text
    assert client.get("/v1/tools/weather").json()["url"] == server.url + "/weather"
    assert server.requests == []
