"""`CustomTools`: the catalogue of a tenant's HTTP tools (and, in `.mcp`, its MCP servers) as
the runtime offers it, each call in its own transaction, and the tool registry a turn of an
agent gets (built outside the loop)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from agent_runtime.core.settings import Settings
from agent_runtime.memory import agents as agents_
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import CustomTool
from agent_runtime.tools import catalogue, secrets
from agent_runtime.tools.http_tool import Caller, HttpClient, HttpxClient
from agent_runtime.tools.mcp_client import McpClient
from agent_runtime.tools.mcp_servers import McpServers
from memory_tools import ToolRegistry


class CustomTools:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        reserved: frozenset[str],
        client: HttpClient | None = None,
        mcp_client: McpClient | None = None,
    ) -> None:
        self._engine = engine
        self.mcp = McpServers(engine, settings, reserved, mcp_client)
        known = secrets.by_name(settings.tool_secrets)
        self.policy = catalogue.Policy(settings.allowed_tool_urls, known, reserved)
        self.caller = Caller(
            client or HttpxClient(),
            settings.allowed_tool_urls,
            known,
            settings.tool_timeout_seconds,
        )

    def create(self, fields: dict[str, Any], *, tenant: str) -> CustomTool:
        with transaction(self._engine) as session:
            return catalogue.create(session, tenant, fields, self.policy)

    def listing(self, *, tenant: str) -> list[CustomTool]:
        with Session(self._engine) as session:
            return catalogue.listing(session, tenant)

    def get(self, tool: str, *, tenant: str) -> CustomTool:
        with Session(self._engine) as session:
            return catalogue.get(session, tenant, tool)

    def update(self, tool: str, changes: dict[str, Any], *, tenant: str) -> CustomTool:
        with transaction(self._engine) as session:
            return catalogue.update(session, tenant, tool, changes, self.policy)

    def delete(self, tool: str, *, tenant: str) -> None:
        with transaction(self._engine) as session:
            catalogue.delete(session, tenant, tool)

    def attach(self, agent_id: str, tool: str, *, tenant: str) -> CustomTool:
        with transaction(self._engine) as session:
            agents_.get(session, tenant, agent_id)
            return catalogue.attach(session, tenant, agent_id, tool)

    def detach(self, agent_id: str, tool: str, *, tenant: str) -> None:
        with transaction(self._engine) as session:
            agents_.get(session, tenant, agent_id)
            catalogue.detach(session, tenant, agent_id, tool)

    def attached(self, agent_id: str) -> list[CustomTool]:
        with Session(self._engine) as session:
            return catalogue.attached(session, agent_id)

    def attached_names(self, agent_ids: list[str]) -> dict[str, list[str]]:
        with Session(self._engine) as session:
            return catalogue.attached_names(session, agent_ids)

    def registry(self, agent_id: str, base: ToolRegistry) -> ToolRegistry:
        """`base` plus the tools attached to the agent now."""
        with Session(self._engine) as session:
            rows = catalogue.attached(session, agent_id)
            others = self.mcp.calls_for(session, rows)
        return catalogue.registry_for(rows, base, self.caller, others)

    def close(self) -> None:
        self.caller.client.close()
