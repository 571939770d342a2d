"""The request and response models of /v1/tools. A tool's headers are shown as stored, with
their ``${secret:NAME}`` references: the secrets' values never leave the server."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agent_runtime.core.limits import (
    MAX_TOOL_DESCRIPTION_CHARS,
    MAX_TOOL_HEADER_CHARS,
    MAX_TOOL_HEADERS,
    MAX_TOOL_NAME_CHARS,
    MAX_TOOL_URL_CHARS,
)
from agent_runtime.storage.tables import CustomTool
from server.responses import Out, Timestamp
from server.schemas import Body, Id, Params

ToolName = Annotated[
    str, Field(min_length=1, max_length=MAX_TOOL_NAME_CHARS, pattern=r"^[A-Za-z0-9_-]+$")
]
Description = Annotated[str, Field(max_length=MAX_TOOL_DESCRIPTION_CHARS)]
Url = Annotated[str, Field(min_length=1, max_length=MAX_TOOL_URL_CHARS)]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HeaderText = Annotated[str, Field(max_length=MAX_TOOL_HEADER_CHARS)]
Headers = Annotated[
    dict[HeaderText, HeaderText],
    Field(
        max_length=MAX_TOOL_HEADERS,
        description="values may name server secrets: `Bearer ${secret:NAME}`",
    ),
]
Parameters = Annotated[
    dict[str, Any], Field(description='a JSON schema of "type": "object" for the arguments')
]


class ToolCreate(Body):
    name: ToolName
    description: Description = ""
    parameters: Parameters
    url: Url
    method: Method = "POST"
    headers: Headers = Field(default_factory=dict)


class ToolEdit(Body):
    name: ToolName | None = None
    description: Description | None = None
    parameters: Parameters | None = None
    url: Url | None = None
    method: Method | None = None
    headers: Headers | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ToolPath(Params):
    tool: Annotated[str, Field(min_length=1, max_length=100, description="the tool's id or name")]


class AgentToolPath(ToolPath):
    agent_id: Id


class ToolOut(Out):
    id: str
    name: str
    description: str
    parameters: dict[str, Any]
    url: str
    method: str
    headers: dict[str, str]  # as stored: ${secret:NAME}, never a value
    mcp_server: str | None = None  # the id of the MCP server offering it
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: CustomTool) -> ToolOut:
        extra = {"mcp_server": row.mcp_server_id} if row.mcp_server_id else {}
        return cls(
            **extra,
            id=row.id,
            name=row.name,
            description=row.description,
            parameters=row.parameters,
            url=row.url,
            method=row.method,
            headers=row.headers,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ToolsOut(Out):
    data: list[ToolOut]
