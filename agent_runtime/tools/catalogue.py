"""A tenant's custom tools and the agents they are attached to.

Names are unique per tenant and may not be a built-in tool's; a tool is found by id or name,
always within the caller's tenant (another tenant's tool is a NotFound). URLs must start with a
prefix in `RECALLD_ALLOWED_TOOL_URLS` when saved (and again at every call, `http_tool.Caller`);
header values may name server secrets, which must exist when saved.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from agent_runtime.core.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from agent_runtime.core.limits import MAX_TOOL_NAME_CHARS, MAX_TOOL_SCHEMA_BYTES
from agent_runtime.core.settings import ToolSecret
from agent_runtime.storage.tables import AgentTool, CustomTool, utcnow
from agent_runtime.tools import http_tool
from agent_runtime.tools.http_tool import Caller, HttpTool
from memory_tools import ToolRegistry

NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_TOOL_NAME_CHARS}}}$")  # as providers accept
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The job tools are added to a job's registry only; they are taken names all the same.
JOB_TOOLS = frozenset({"report_progress", "complete_job"})


@dataclass(frozen=True)
class Policy:
    """What a saved tool must satisfy on this server."""

    allowed_urls: tuple[str, ...]
    secrets: Mapping[str, ToolSecret]
    reserved: frozenset[str]  # built-in tool names


def _check(row: CustomTool, policy: Policy) -> None:
    if not NAME.match(row.name):
        raise InvalidInput(
            f"name must be 1-{MAX_TOOL_NAME_CHARS} letters, digits, _ or -", field="name"
        )
    if row.name in policy.reserved:
        raise Conflict(f"{row.name!r} is a built-in tool's name")
    if row.method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}", field="method")
    if len(json.dumps(row.parameters)) > MAX_TOOL_SCHEMA_BYTES:
        raise LimitExceeded(f"parameters is over {MAX_TOOL_SCHEMA_BYTES} bytes as JSON")
    http_tool.check_schema(row.parameters)
    http_tool.check_destination(row.url, row.headers, policy.allowed_urls, policy.secrets)


def _taken(session: Session, tenant: str, name: str, but: str | None = None) -> None:
    query = select(CustomTool).where(CustomTool.tenant_id == tenant, CustomTool.name == name)
    other = session.exec(query).first()
    if other is not None and other.id != but:
        raise Conflict(f"a tool named {name!r} exists")


def create(session: Session, tenant: str, fields: dict[str, Any], policy: Policy) -> CustomTool:
    row = CustomTool(
        id="tool-" + uuid.uuid4().hex,
        tenant_id=tenant,
        name=fields["name"],
        description=fields.get("description", ""),
        parameters=fields["parameters"],
        url=fields["url"],
        method=fields.get("method", "POST"),
        headers=dict(fields.get("headers") or {}),
    )
    _check(row, policy)
    _taken(session, tenant, row.name)
    session.add(row)
    session.flush()
    return row


def get(session: Session, tenant: str, tool: str) -> CustomTool:
    """The tenant's tool with id or name `tool`."""
    column = CustomTool.id if tool.startswith("tool-") else CustomTool.name
    row = session.exec(
        select(CustomTool).where(CustomTool.tenant_id == tenant, column == tool)
    ).first()
    if row is None:
        raise NotFound(f"no tool {tool!r}")
    return row


def listing(session: Session, tenant: str) -> list[CustomTool]:
    query = select(CustomTool).where(CustomTool.tenant_id == tenant).order_by(col(CustomTool.name))
    return list(session.exec(query))


def _own(row: CustomTool) -> CustomTool:
    """`row`, if it is the tenant's to change: an MCP server's tools follow the server."""
    if row.mcp_server_id is not None:
        raise Conflict(
            f"{row.name!r} is an MCP server's tool: refresh or delete the server instead"
        )
    return row


def update(
    session: Session, tenant: str, tool: str, changes: dict[str, Any], policy: Policy
) -> CustomTool:
    row = _own(get(session, tenant, tool))
    for key, value in changes.items():
        setattr(row, key, dict(value) if key == "headers" else value)
    _check(row, policy)
    _taken(session, tenant, row.name, but=row.id)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete(session: Session, tenant: str, tool: str) -> None:
    remove(session, _own(get(session, tenant, tool)))


def remove(session: Session, row: CustomTool) -> None:
    """Delete `row` and detach it from every agent."""
    for link in session.exec(select(AgentTool).where(AgentTool.tool_id == row.id)):
        session.delete(link)
    session.delete(row)


def attach(session: Session, tenant: str, agent_id: str, tool: str) -> CustomTool:
    """Attach (the caller has checked the agent is the tenant's); attaching twice is one link."""
    row = get(session, tenant, tool)
    if session.get(AgentTool, (agent_id, row.id)) is None:
        session.add(AgentTool(agent_id=agent_id, tool_id=row.id))
    return row


def detach(session: Session, tenant: str, agent_id: str, tool: str) -> None:
    row = get(session, tenant, tool)
    link = session.get(AgentTool, (agent_id, row.id))
    if link is None:
        raise NotFound(f"tool {row.name!r} is not attached to this agent")
    session.delete(link)


def attached(session: Session, agent_id: str) -> list[CustomTool]:
    query = (
        select(CustomTool)
        .join(AgentTool, col(AgentTool.tool_id) == col(CustomTool.id))
        .where(AgentTool.agent_id == agent_id)
        .order_by(col(CustomTool.name))
    )
    return list(session.exec(query))


def attached_names(session: Session, agent_ids: list[str]) -> dict[str, list[str]]:
    """The names of the custom tools attached to each of `agent_ids` (in name order)."""
    if not agent_ids:
        return {}
    query = (
        select(AgentTool.agent_id, CustomTool.name)
        .join(CustomTool, col(AgentTool.tool_id) == col(CustomTool.id))
        .where(col(AgentTool.agent_id).in_(agent_ids))
        .order_by(col(CustomTool.name))
    )
    names: dict[str, list[str]] = {a: [] for a in agent_ids}
    for agent_id, name in session.exec(query):
        names[agent_id].append(name)
    return names


def as_tool(row: CustomTool) -> HttpTool:
    return HttpTool(row.name, row.description, row.parameters, row.url, row.method, row.headers)


def registry_for(
    rows: list[CustomTool],
    base: ToolRegistry,
    caller: Caller,
    others: Mapping[str, Callable[[dict[str, Any]], str]],
) -> ToolRegistry:
    """`base` with the attached tools added: HTTP tools call through `caller`, the rest
    (an MCP server's) through `others[tool id]`."""
    if not rows:
        return base
    registry = base.copy()
    for row in rows:
        tool = as_tool(row)
        call = others.get(row.id) if row.mcp_server_id else functools.partial(caller.call, tool)
        if call is not None:
            registry.add(tool.schema(), call)
    return registry
