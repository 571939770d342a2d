from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from tool_server import ToolServer

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.settings import ToolSecret
from agent_runtime.tools.http_tool import (
    Caller,
    FakeHttpClient,
    HttpReply,
    HttpTool,
    HttpxClient,
    check_schema,
)
from memory_tools import ToolError, ToolRegistry

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
    "additionalProperties": False,
}


def weather(path: str, body: dict[str, Any]) -> tuple[int, str]:
    if body.get("city") == "Atlantis":
        return 404, '{"error": "no such city"}'
    if body.get("city") == "Slowtown":
        time.sleep(1.0)
    return 200, json.dumps({"city": body["city"], "forecast": "sunny"})


def key(url: str, value: str = "s3cret") -> ToolSecret:
    """WEATHER_KEY, bound to the weather endpoint under `url`."""
    return ToolSecret("WEATHER_KEY", value, url + "/weather")


def tool(url: str, **headers: str) -> HttpTool:
    return HttpTool(
        "weather", "The forecast for a city", WEATHER, url + "/weather", "POST", headers
    )


def test_a_call_sends_the_arguments_as_json_with_resolved_secrets() -> None:
    with ToolServer(weather) as server:
        caller = Caller(HttpxClient(), (server.url,), {"WEATHER_KEY": key(server.url)}, 5.0)
        out = caller.call(
            tool(server.url, Authorization="Bearer ${secret:WEATHER_KEY}"), {"city": "Oslo"}
        )
    assert json.loads(out) == {"city": "Oslo", "forecast": "sunny"}
    path, headers, body = server.requests[0]
    assert (path, body) == ("/weather", {"city": "Oslo"})
    assert headers["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [({"days": 2}, "'city' is a required property"), ({"city": "Oslo", "days": 0}, "days")],
)
def test_invalid_arguments_are_refused_before_any_request(
    arguments: dict[str, Any], says: str
) -> None:
    client = FakeHttpClient()
    caller = Caller(client, ("http://tools.local/",), {}, 5.0)
    with pytest.raises(ToolError, match=says):
        caller.call(tool("http://tools.local"), arguments)
    assert client.sent == []


def test_an_error_status_a_timeout_and_a_refused_connection_are_tool_errors() -> None:
    with ToolServer(weather) as server:
        caller = Caller(HttpxClient(), (server.url,), {}, 0.3)
        with pytest.raises(ToolError, match="HTTP 404: .*no such city"):
            caller.call(tool(server.url), {"city": "Atlantis"})
        with pytest.raises(ToolError, match="did not answer within 0.3 s"):
            caller.call(tool(server.url), {"city": "Slowtown"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    caller = Caller(HttpxClient(), (closed,), {}, 1.0)
    with pytest.raises(ToolError, match="could not be reached"):
        caller.call(tool(closed), {"city": "Oslo"})


def test_a_url_outside_the_allow_list_is_refused_at_call_time() -> None:
    client = FakeHttpClient()
    caller = Caller(client, ("http://other.local/",), {}, 5.0)
    with pytest.raises(ToolError, match="not allowed"):
        caller.call(tool("http://tools.local"), {"city": "Oslo"})
    assert client.sent == []


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        ("http://tools.local:8", "http://tools.local:80/x"),
        ("http://tools.local:8", "http://tools.local:8@evil.net/x"),
        ("http://tools.local", "http://tools.localhost/x"),
    ],
)
def test_a_url_only_sharing_the_prefix_text_is_not_under_it(prefix: str, url: str) -> None:
    client = FakeHttpClient()
    caller = Caller(client, (prefix,), {}, 5.0)
    with pytest.raises(ToolError, match="not allowed"):
        caller.call(HttpTool("weather", "", WEATHER, url), {"city": "Oslo"})
    assert client.sent == []


def test_a_long_body_is_cut_and_says_so() -> None:
    with ToolServer(lambda p, b: (200, "x" * 100_000)) as server:
        out = Caller(HttpxClient(limit=1000), (server.url,), {}, 5.0).call(
            tool(server.url), {"city": "Oslo"}
        )
    assert out.startswith("x" * 1000) and out.endswith("[... cut at 1000 bytes]")


def test_schemas_are_checked() -> None:
    check_schema(WEATHER)
    with pytest.raises(InvalidInput, match="not a valid JSON schema"):
        check_schema({"type": "object", "properties": {"city": {"type": "town"}}})
    with pytest.raises(InvalidInput, match='"type": "object"'):
        check_schema({"type": "string"})


def test_a_registry_runs_a_custom_tool_with_its_own_checks() -> None:
    client = FakeHttpClient(reply=lambda *_: HttpReply(200, b'{"ok": true}'))
    caller = Caller(client, ("http://tools.local/",), {}, 5.0)
    registry = ToolRegistry()
    t = tool("http://tools.local")
    registry.add(t.schema(), lambda arguments: caller.call(t, arguments))
    assert registry.schemas() == [{"type": "function", "function": t.schema()}]
    assert registry.run(None, "weather", '{"city": "Oslo"}') == '{"ok": true}'  # type: ignore[arg-type]
    with pytest.raises(ToolError, match="required"):
        registry.run(None, "weather", "{}")  # type: ignore[arg-type]


def test_secrets_come_from_the_variables_the_setting_names() -> None:
    from agent_runtime.core.errors import ConfigurationError
    from agent_runtime.core.settings import Settings

    env = {
        "RECALLD_TOOL_SECRETS": "WEATHER_KEY=WX@https://wx.example/v1/, OTHER=OT@http://o.local",
        "WX": "s3cret",
        "OT": "x",
    }
    settings = Settings.from_env(env)
    assert settings.tool_secrets == (
        ToolSecret("WEATHER_KEY", "s3cret", "https://wx.example/v1/"),
        ToolSecret("OTHER", "x", "http://o.local"),
    )
    assert "s3cret" not in repr(settings)
    with pytest.raises(ConfigurationError, match="MISSING"):
        Settings.from_env({"RECALLD_TOOL_SECRETS": "K=MISSING@http://k.local/"})
    with pytest.raises(ConfigurationError, match="bound to no URL"):
        Settings.from_env({"RECALLD_TOOL_SECRETS": "K=KV", "KV": "v"})


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (ToolSecret("WEATHER_KEY", "s3cret", "http://wx.local/weather"), "only be sent"),
        (ToolSecret("OTHER", "s3cret", "http://tools.local/"), "not on this server"),
    ],
)
def test_a_secret_goes_only_under_its_own_prefix(secret: ToolSecret, says: str) -> None:
    """Both URLs are allowed for tools, but the key is bound to wx.local: a tool aimed at
    tools.local (a tenant's endpoint that echoes headers, say) gets no call at all."""
    client = FakeHttpClient()
    caller = Caller(client, ("http://tools.local/", "http://wx.local/"), {secret.name: secret}, 5.0)
    with pytest.raises(ToolError, match=says):
        caller.call(
            tool("http://tools.local", Authorization="Bearer ${secret:WEATHER_KEY}"),
            {"city": "Oslo"},
        )
    assert client.sent == []


@pytest.mark.parametrize(
    "url",
    [
        "http://tools.local/t/../admin",
        "http://tools.local/t/%2E%2e/admin",
        "http://tools.local\\@e",
    ],
)
def test_a_url_that_resolves_outside_its_prefix_is_refused(url: str) -> None:
    """httpx resolves "..": a prefix check on the text as written would let it out."""
    client = FakeHttpClient()
    caller = Caller(client, ("http://tools.local/t/",), {}, 5.0)
    with pytest.raises(ToolError, match="not allowed"):
        caller.call(HttpTool("weather", "", WEATHER, url), {"city": "Oslo"})
    assert client.sent == []
