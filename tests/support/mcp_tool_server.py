"""A loopback MCP server for tests, built with the official SDK: `McpToolServer` serves it over
streamable HTTP (or SSE) on 127.0.0.1 in a thread (recording the headers of each request); run as a
script, it speaks stdio."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import uvicorn
from live_server import free_port
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send


def build() -> MCPServer:
    server = MCPServer("loopback-tools")

    @server.tool()
    def add(a: int, b: int) -> str:
        """Add two whole numbers."""
        return str(a + b)

    @server.tool()
    def forecast(city: str) -> str:
        """Tomorrow's weather in a city."""
        return f"sunny in {city}, 21 C"

    @server.tool()
    def explode() -> str:
        """Always fails."""
        raise ValueError("the tool broke on purpose")

    return server


class _Recorder:
    def __init__(self, app: ASGIApp, seen: list[dict[str, str]]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.app(scope, receive, send)


class McpToolServer:
    """`url` is the MCP endpoint; `headers` what each HTTP request carried."""

    def __init__(self, transport: str = "http") -> None:
        """`transport`: "http" (streamable HTTP at /mcp) or "sse" (the older one, at /sse)."""
        self.headers: list[dict[str, str]] = []
        if transport == "sse":
            app, path = build().sse_app(), "/sse"
        else:
            app = build().streamable_http_app(stateless_http=True, json_response=True)
            path = "/mcp"
        port = free_port()
        config = uvicorn.Config(
            _Recorder(app, self.headers), host="127.0.0.1", port=port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}{path}"

    def __enter__(self) -> McpToolServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the MCP tool server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:] != ["--stdio"]:
        raise SystemExit("usage: mcp_tool_server.py --stdio")
    build().run("stdio")
