"""`recalld tools` against a real `recalld serve` and a real MCP server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import LiveServer
from mcp_tool_server import McpToolServer


@pytest.fixture(scope="module")
def mcp() -> Iterator[McpToolServer]:
    with McpToolServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mcp: McpToolServer) -> Iterator[LiveServer]:
    home: Path = tmp_path_factory.mktemp("recalld-tools")
    allowed = mcp.url.rsplit("/", 1)[0] + "/"
    live = LiveServer(home, RECALLD_ALLOWED_TOOL_URLS=allowed).start()
    yield live
    live.stop()


def test_an_mcp_servers_tools_are_added_attached_and_shown(
    server: LiveServer, mcp: McpToolServer
) -> None:
    assert "no tools yet" in server.cli("tools", "list").stdout
    added = server.cli("tools", "mcp-add", "loop", mcp.url)
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[0] == f"loop (http, {mcp.url})"
    assert "loop__add" in added.stdout and "Add two whole numbers." in added.stdout
    listed = json.loads(server.cli("tools", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["loop__add", "loop__explode", "loop__forecast"]
    server.cli("agents", "create", "handy")
    attached = server.cli("tools", "attach", "handy", "loop__forecast")
    assert attached.stdout.strip() == "handy may call loop__forecast"
    assert "tools            loop__forecast" in server.cli("agents", "show", "handy").stdout
    assert server.cli("tools", "detach", "handy", "loop__forecast").returncode == 0
    assert "tools " not in server.cli("agents", "show", "handy").stdout
    refreshed = server.cli("tools", "mcp-refresh", "loop")
    assert refreshed.returncode == 0 and "loop__explode" in refreshed.stdout
    assert "loop (http" in server.cli("tools", "mcp-list").stdout
    assert server.cli("tools", "mcp-remove", "loop").returncode == 0
    assert "no MCP servers yet" in server.cli("tools", "mcp-list").stdout


def test_refusals_are_one_line(server: LiveServer) -> None:
    refused = server.cli("tools", "mcp-add", "far", "http://10.9.9.9/mcp")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error:") and "RECALLD_ALLOWED_TOOL_URLS" in refused.stderr
    both = server.cli("tools", "mcp-add", "x", "http://h/mcp", "--command", "python s.py")
    assert both.returncode == 2 and "one of them" in both.stderr
    assert server.cli("tools", "attach", "nobody", "loop__add").returncode == 1
