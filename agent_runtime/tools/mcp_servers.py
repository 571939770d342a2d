"""A tenant's MCP servers, whose tools join the tenant's custom tools.

Registering a server lists its tools (over streamable HTTP, SSE, or a local command on stdio)
and saves each as a custom tool named ``SERVER__TOOL``, attached to agents like any other; a
refresh lists again (new tools added, changed ones updated, gone ones removed and detached);
deleting the server deletes its tools. A tool that cannot be offered (a bad name or schema, a
name taken) is listed in the server's `skipped`, not dropped silently.

URLs obey `RECALLD_ALLOWED_TOOL_URLS` and header secrets their bound prefixes, as HTTP tools do,
when saved and at every call; a command must be one `RECALLD_MCP_COMMANDS` names (none by
default), since the server runs it on its own machine.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from agent_runtime.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ToolServerUnavailable,
)
from agent_runtime.core.limits import (
    MAX_MCP_COMMAND_PARTS,
    MAX_MCP_SERVER_NAME_CHARS,
    MAX_MCP_TOOLS,
    MAX_TOOL_DESCRIPTION_CHARS,
    MAX_TOOL_NAME_CHARS,
    MAX_TOOL_SCHEMA_BYTES,
    MAX_TOOL_URL_CHARS,
)
from agent_runtime.core.settings import Settings, ToolSecret
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import CustomTool, McpServer, utcnow
from agent_runtime.tools import catalogue, http_tool, secrets
from agent_runtime.tools.mcp_client import McpClient, McpEndpoint, RemoteTool, SdkMcpClient
from memory_tools import ToolError

NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_MCP_SERVER_NAME_CHARS}}}$")
TOOL_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_TOOL_NAME_CHARS}}}$")
TRANSPORTS = ("http", "sse", "stdio")
ToolCall = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Policy:
    allowed_urls: tuple[str, ...]
    secrets: Mapping[str, ToolSecret]
    commands: tuple[str, ...]
    reserved: frozenset[str]
    timeout: float


def _check(row: McpServer, policy: Policy) -> None:
    if not NAME.match(row.name):
        raise InvalidInput(
            f"name must be 1-{MAX_MCP_SERVER_NAME_CHARS} letters, digits, _ or -", field="name"
        )
    if row.transport not in TRANSPORTS:
        raise InvalidInput(f"transport must be one of {', '.join(TRANSPORTS)}", field="transport")
    if row.transport == "stdio":
        if row.url or row.headers:
            raise InvalidInput("a stdio server has a command, not a url or headers", field="url")
        _check_command(row.command, policy.commands)
        return
    if row.command:
        raise InvalidInput(f"a {row.transport} server has a url, not a command", field="command")
    if not row.url:
        raise InvalidInput(f"a {row.transport} server needs a url", field="url")
    http_tool.check_destination(row.url, row.headers, policy.allowed_urls, policy.secrets)


def _check_command(command: list[str], allowed: tuple[str, ...]) -> None:
    if not command or len(command) > MAX_MCP_COMMAND_PARTS:
        raise InvalidInput(
            f"command is the program and its arguments, 1-{MAX_MCP_COMMAND_PARTS} parts",
            field="command",
        )
    if any(len(part) > MAX_TOOL_URL_CHARS or "\x00" in part for part in command):
        raise InvalidInput("a part of command is too long or holds a NUL", field="command")
    if command[0] not in allowed:
        raise InvalidInput(
            f"command {command[0]!r} is not one RECALLD_MCP_COMMANDS allows"
            + ("" if allowed else " (none is set: no server may start commands)"),
            field="command",
        )


def _endpoint(row: McpServer, known: Mapping[str, ToolSecret]) -> McpEndpoint:
    """How to reach `row`, its header secrets filled in (ToolError if one may not go there)."""
    headers = secrets.resolve(row.headers, row.url, known) if row.url else {}
    return McpEndpoint(row.name, row.transport, row.url, tuple(row.command), headers)  # type: ignore[arg-type]


def _offer(
    session: Session, row: McpServer, remote: RemoteTool, policy: Policy
) -> tuple[str, str | None]:
    """The custom tool name for `remote`, and why it cannot be offered (None: it can)."""
    name = f"{row.name}__{remote.name}"
    if not TOOL_NAME.match(name):
        return name, f"{remote.name!r}: the name {name!r} is not 1-64 letters, digits, _ or -"
    if name in policy.reserved:
        return name, f"{remote.name!r}: {name!r} is a built-in tool's name"
    if len(json.dumps(remote.parameters)) > MAX_TOOL_SCHEMA_BYTES:
        return name, f"{remote.name!r}: its schema is over {MAX_TOOL_SCHEMA_BYTES} bytes"
    try:
        http_tool.check_schema(remote.parameters)
    except InvalidInput as exc:
        return name, f"{remote.name!r}: {exc.message}"
    query = select(CustomTool).where(CustomTool.tenant_id == row.tenant_id, CustomTool.name == name)
    other = session.exec(query).first()
    if other is not None and other.mcp_server_id != row.id:
        return name, f"{remote.name!r}: a tool named {name!r} exists"
    return name, None


def _sync(session: Session, row: McpServer, remote: list[RemoteTool], policy: Policy) -> None:
    """Make the server's custom tools what it offers now."""
    query = select(CustomTool).where(CustomTool.mcp_server_id == row.id)
    current = {t.remote_name: t for t in session.exec(query)}
    skipped, kept = [], set()
    for number, tool in enumerate(remote):
        if number >= MAX_MCP_TOOLS:
            skipped.append(f"{len(remote) - MAX_MCP_TOOLS} more tools (at most {MAX_MCP_TOOLS})")
            break
        name, refusal = _offer(session, row, tool, policy)
        if refusal:
            skipped.append(refusal)
            continue
        saved = current.get(tool.name) or CustomTool(
            id="tool-" + uuid.uuid4().hex,
            tenant_id=row.tenant_id,
            name=name,
            url=row.url or f"stdio:{row.command[0]}",
            method="POST",
            headers={},
            description="",
            parameters={},
            mcp_server_id=row.id,
            remote_name=tool.name,
        )
        saved.description = tool.description[:MAX_TOOL_DESCRIPTION_CHARS]
        saved.parameters = tool.parameters
        saved.updated_at = utcnow()
        session.add(saved)
        kept.add(tool.name)
    for remote_name, gone in current.items():
        if remote_name not in kept:
            catalogue.remove(session, gone)
    row.skipped = skipped
    row.refreshed_at = utcnow()
    session.add(row)
    session.flush()


def get(session: Session, tenant: str, server: str) -> McpServer:
    """The tenant's server with id or name `server`."""
    column = McpServer.id if server.startswith("mcp-") else McpServer.name
    row = session.exec(
        select(McpServer).where(McpServer.tenant_id == tenant, column == server)
    ).first()
    if row is None:
        raise NotFound(f"no MCP server {server!r}")
    return row


def tools_of(session: Session, server_id: str) -> list[CustomTool]:
    query = (
        select(CustomTool)
        .where(CustomTool.mcp_server_id == server_id)
        .order_by(col(CustomTool.name))
    )
    return list(session.exec(query))


@dataclass(frozen=True)
class Registered:
    server: McpServer
    tools: list[CustomTool]


class McpServers:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        reserved: frozenset[str],
        client: McpClient | None = None,
    ) -> None:
        self._engine = engine
        self.client: McpClient = client or SdkMcpClient()
        self.policy = Policy(
            settings.allowed_tool_urls,
            secrets.by_name(settings.tool_secrets),
            settings.mcp_commands,
            reserved,
            settings.tool_timeout_seconds,
        )

    def _listed(self, row: McpServer) -> list[RemoteTool]:
        try:
            return self.client.list_tools(_endpoint(row, self.policy.secrets), self.policy.timeout)
        except ToolError as exc:
            raise ToolServerUnavailable(f"could not list its tools: {exc}") from exc

    def create(self, fields: dict[str, Any], *, tenant: str) -> Registered:
        row = McpServer(
            id="mcp-" + uuid.uuid4().hex,
            tenant_id=tenant,
            name=fields["name"],
            transport=fields.get("transport") or "http",
            url=fields.get("url"),
            command=list(fields.get("command") or []),
            headers=dict(fields.get("headers") or {}),
        )
        _check(row, self.policy)
        with Session(self._engine) as session:
            self._untaken(session, tenant, row.name)
        remote = self._listed(row)  # outside a transaction: the network is slow
        with transaction(self._engine) as session:
            self._untaken(session, tenant, row.name)
            session.add(row)
            session.flush()
            _sync(session, row, remote, self.policy)
            return Registered(row, tools_of(session, row.id))

    def _untaken(self, session: Session, tenant: str, name: str) -> None:
        query = select(McpServer.id).where(McpServer.tenant_id == tenant, McpServer.name == name)
        if session.exec(query).first() is not None:
            raise Conflict(f"an MCP server named {name!r} exists")

    def refresh(self, server: str, *, tenant: str) -> Registered:
        with Session(self._engine) as session:
            row = get(session, tenant, server)
        _check(row, self.policy)  # the settings may have changed since it was saved
        remote = self._listed(row)
        with transaction(self._engine) as session:
            row = get(session, tenant, server)
            _sync(session, row, remote, self.policy)
            return Registered(row, tools_of(session, row.id))

    def get(self, server: str, *, tenant: str) -> Registered:
        with Session(self._engine) as session:
            row = get(session, tenant, server)
            return Registered(row, tools_of(session, row.id))

    def listing(self, *, tenant: str) -> list[Registered]:
        with Session(self._engine) as session:
            query = (
                select(McpServer).where(McpServer.tenant_id == tenant).order_by(col(McpServer.name))
            )
            return [Registered(r, tools_of(session, r.id)) for r in session.exec(query)]

    def delete(self, server: str, *, tenant: str) -> None:
        with transaction(self._engine) as session:
            row = get(session, tenant, server)
            for tool in tools_of(session, row.id):
                catalogue.remove(session, tool)
            session.delete(row)

    def calls_for(self, session: Session, rows: list[CustomTool]) -> dict[str, ToolCall]:
        """The call behind each of `rows` that an MCP server offers, by tool id."""
        ids = {r.mcp_server_id for r in rows if r.mcp_server_id}
        if not ids:
            return {}
        servers = {
            s.id: s for s in session.exec(select(McpServer).where(col(McpServer.id).in_(ids)))
        }
        return {
            r.id: functools.partial(self.call, servers[r.mcp_server_id], r)
            for r in rows
            if r.mcp_server_id in servers
        }

    def call(self, server: McpServer, tool: CustomTool, arguments: dict[str, Any]) -> str:
        http_tool.check_arguments(tool.name, tool.parameters, arguments)
        try:
            _check(server, self.policy)
        except InvalidInput as exc:
            raise ToolError(f"{tool.name} may not be called on this server any more") from exc
        endpoint = _endpoint(server, self.policy.secrets)
        assert tool.remote_name is not None
        return self.client.call(endpoint, tool.remote_name, arguments, self.policy.timeout)
