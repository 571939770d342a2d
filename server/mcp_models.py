"""The request and response models of /v1/mcp-servers. Headers are shown as stored, with their
``${secret:NAME}`` references; a server's tools are custom tools (`server/tool_models.py`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agent_runtime.core.limits import (
    MAX_MCP_COMMAND_PARTS,
    MAX_MCP_SERVER_NAME_CHARS,
    MAX_TOOL_URL_CHARS,
)
from agent_runtime.tools.mcp_servers import Registered
from server.responses import Out, Timestamp
from server.schemas import Body, Params
from server.tool_models import Headers, ToolOut, Url

ServerName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_MCP_SERVER_NAME_CHARS, pattern=r"^[A-Za-z0-9_-]+$"),
]
Part = Annotated[str, Field(min_length=1, max_length=MAX_TOOL_URL_CHARS)]


class McpServerCreate(Body):
    name: ServerName
    transport: Literal["http", "sse", "stdio"] = Field(
        "http", description="http: streamable HTTP; sse: the older SSE transport; stdio: a command"
    )
    url: Url | None = Field(None, description="http and sse: the server's MCP endpoint")
    headers: Headers = Field(default_factory=dict)
    command: list[Part] = Field(
        default_factory=list,
        max_length=MAX_MCP_COMMAND_PARTS,
        description="stdio: the program (one RECALLD_MCP_COMMANDS allows) and its arguments",
    )


class McpServerPath(Params):
    server: Annotated[
        str, Field(min_length=1, max_length=100, description="the server's id or name")
    ]


class McpServerOut(Out):
    id: str
    name: str
    transport: str
    url: str | None
    command: list[str]
    headers: dict[str, str]  # as stored: ${secret:NAME}, never a value
    tools: list[ToolOut]  # attach them by name: SERVER__TOOL
    skipped: list[str]  # tools it offers that cannot be used here, and why
    refreshed_at: Timestamp
    created_at: Timestamp

    @classmethod
    def of(cls, found: Registered) -> McpServerOut:
        row = found.server
        return cls(
            id=row.id,
            name=row.name,
            transport=row.transport,
            url=row.url,
            command=row.command,
            headers=row.headers,
            tools=[ToolOut.of(t) for t in found.tools],
            skipped=row.skipped,
            refreshed_at=row.refreshed_at,
            created_at=row.created_at,
        )


class McpServersOut(Out):
    data: list[McpServerOut]
