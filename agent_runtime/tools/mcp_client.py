"""Talking to an MCP server: list its tools, call one. `SdkMcpClient` is the real client (the
official `mcp` SDK, a connection per operation: nothing to keep alive or leak between turns);
`FakeMcpClient` answers from functions and records what it was asked.

Every failure (unreachable, a timeout, a protocol error, the tool's own error) is a `ToolError`
naming the server, never the SDK's exception text with its URLs and headers; a turn hands it
to the model as the tool's result."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import anyio

from agent_runtime.core.limits import MAX_TOOL_RESPONSE_BYTES
from memory_tools import ToolError

log = logging.getLogger(__name__)

Transport = Literal["http", "sse", "stdio"]
T = TypeVar("T")


@dataclass(frozen=True)
class McpEndpoint:
    """Where a server is and how to reach it; `headers` hold secret values, so no repr."""

    name: str
    transport: Transport
    url: str | None = None
    command: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RemoteTool:
    name: str
    description: str
    parameters: dict[str, Any]


class McpClient(Protocol):
    def list_tools(self, endpoint: McpEndpoint, timeout: float) -> list[RemoteTool]: ...

    def call(
        self, endpoint: McpEndpoint, tool: str, arguments: dict[str, Any], timeout: float
    ) -> str: ...


def _text(result: Any) -> str:
    """A tool result as the model reads it: its text parts, else its structured content."""
    parts = [getattr(c, "text", None) for c in result.content]
    text = "\n".join(p for p in parts if isinstance(p, str))
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content)
    if len(text.encode()) > MAX_TOOL_RESPONSE_BYTES:
        cut = text.encode()[:MAX_TOOL_RESPONSE_BYTES].decode("utf-8", errors="ignore")
        text = cut + f"\n[... cut at {MAX_TOOL_RESPONSE_BYTES} bytes]"
    return text


class SdkMcpClient:
    """The official SDK's client, run on a fresh event loop in the calling (worker) thread."""

    def list_tools(self, endpoint: McpEndpoint, timeout: float) -> list[RemoteTool]:
        async def work(client: Any) -> list[RemoteTool]:
            tools, cursor = [], None
            for _page in range(20):  # bounded: a server that pages forever is cut off
                listed = await client.list_tools(cursor=cursor)
                tools += [
                    RemoteTool(t.name, t.description or "", dict(t.input_schema))
                    for t in listed.tools
                ]
                cursor = listed.next_cursor
                if not cursor:
                    break
            return tools

        return self._run(endpoint, timeout, work)

    def call(
        self, endpoint: McpEndpoint, tool: str, arguments: dict[str, Any], timeout: float
    ) -> str:
        async def work(client: Any) -> tuple[str, bool]:
            result = await client.call_tool(tool, arguments)
            return _text(result), bool(result.is_error)

        # The tool's own failure is raised out here: inside, the SDK's task group would wrap it.
        text, failed = self._run(endpoint, timeout, work)
        if failed:
            raise ToolError(f"{tool} failed: {text[:2000]}")
        return text

    def _run(self, endpoint: McpEndpoint, timeout: float, work: Callable[[Any], Awaitable[T]]) -> T:
        async def main() -> T:
            with anyio.fail_after(timeout):
                async with _connect(endpoint, timeout) as client:
                    return await work(client)

        try:
            return anyio.run(main)
        except TimeoutError as exc:
            raise ToolError(
                f"MCP server {endpoint.name!r} did not answer within {timeout:g} s"
            ) from exc
        except Exception as exc:  # the SDK's and the network's, which may carry URLs
            log.warning("MCP server %s failed: %s", endpoint.name, type(exc).__name__)
            raise ToolError(
                f"MCP server {endpoint.name!r} could not be used ({_reason(exc)})"
            ) from exc


def _reason(exc: BaseException) -> str:
    """The innermost exception's class, out of an exception group or a chain."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


def _connect(endpoint: McpEndpoint, timeout: float) -> Any:
    import httpx2
    from mcp import Client, StdioServerParameters
    from mcp.client.sse import sse_client
    from mcp.client.stdio import get_default_environment
    from mcp.client.streamable_http import streamable_http_client

    if endpoint.transport == "stdio":
        params = StdioServerParameters(
            command=endpoint.command[0],
            args=list(endpoint.command[1:]),
            env=get_default_environment(),  # PATH, HOME and such: none of the server's secrets
        )
        return Client(params, mode="legacy")
    assert endpoint.url is not None
    if endpoint.transport == "sse":
        return Client(
            sse_client(endpoint.url, headers=dict(endpoint.headers), timeout=timeout),
            mode="legacy",
        )
    http = httpx2.AsyncClient(headers=dict(endpoint.headers), timeout=timeout)
    return _Owning(Client(streamable_http_client(endpoint.url, http_client=http)), http)


class _Owning:
    """A client context that also closes the HTTP client it was given."""

    def __init__(self, client: Any, http: Any) -> None:
        self.client, self.http = client, http

    async def __aenter__(self) -> Any:
        await self.http.__aenter__()
        try:
            return await self.client.__aenter__()
        except BaseException:
            await self.http.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self.client.__aexit__(*exc)
        finally:
            await self.http.__aexit__(None, None, None)


@dataclass
class FakeMcpClient:
    """Serves `tools`; a call answers from `handlers[name](arguments)`. Records every call."""

    tools: list[RemoteTool] = field(default_factory=list)
    handlers: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    calls: list[tuple[McpEndpoint, str, dict[str, Any]]] = field(default_factory=list)
    down: bool = False

    def list_tools(self, endpoint: McpEndpoint, timeout: float) -> list[RemoteTool]:
        if self.down:
            raise ToolError(f"MCP server {endpoint.name!r} could not be used (ConnectError)")
        return list(self.tools)

    def call(
        self, endpoint: McpEndpoint, tool: str, arguments: dict[str, Any], timeout: float
    ) -> str:
        self.calls.append((endpoint, tool, arguments))
        if self.down:
            raise ToolError(f"MCP server {endpoint.name!r} could not be used (ConnectError)")
        return self.handlers[tool](arguments)
