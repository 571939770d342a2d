"""recalld as an MCP server (the official `mcp` SDK's low-level `Server`): six tools over a
tenant's fact memory and agents, for MCP clients such as desktop assistants, IDEs and other
agents. Two transports:

- stdio (`recalld mcp`): a process on the operator's machine with the database itself, acting
  for one tenant (`default`, or `--tenant`), as `recalld keys create --local` does: whoever can
  start it can already read the data under RECALLD_HOME.
- streamable HTTP at `/mcp` of the running server (`server/mcp_endpoint.py`, which imports
  this module, and the SDK, on the first request): the same API keys and tenants as the REST
  API (`server/auth.py`); a missing or bad key is refused (401) before the MCP layer. With no
  key configured, only loopback clients are served, and a request whose Host or Origin is not
  loopback is refused (403): a web page reached through DNS rebinding is not the operator.
  Stateless and answering in JSON: every POST is one exchange, nothing lives between requests,
  so the server starts and stops at once whether or not MCP is used.

A tool's failure (a `RecalldError`, arguments out of bounds) is an MCP tool error carrying its
message, so the model can correct itself; anything else is logged and answered generically."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from pydantic import ValidationError
from starlette.requests import Request

from agent_runtime.core.errors import RecalldError, Unauthorized
from agent_runtime.runtime import Runtime
from server.mcp_endpoint import TENANT
from server.mcp_tools import TOOLS, invalid

log = logging.getLogger("recalld.mcp")

INSTRUCTIONS = (
    "recalld keeps long-term memory: facts about users (memory_add, memory_search), and agents "
    "with their own archival memory and conversation (list_agents, send_message, "
    "archival_search, archival_insert). Search memory before asking the user again; write down "
    "what they tell you that will matter later."
)

TenantOf = Callable[[ServerRequestContext[Any, Any]], str]

# -- the server -------------------------------------------------------------------------------


def build(runtime: Runtime, tenant_of: TenantOf) -> Server[Any]:
    """The MCP server over `runtime`; `tenant_of` names the caller's tenant for each call."""
    listed = [
        types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=tool.args.model_json_schema(),
            annotations=types.ToolAnnotations(read_only_hint=tool.read_only),
        )
        for tool in TOOLS.values()
    ]

    async def list_tools(
        _ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            return _result(f"no tool named {params.name!r}; the tools are {', '.join(TOOLS)}", True)
        try:
            args = tool.args.model_validate(params.arguments or {})
        except ValidationError as exc:
            return _result(invalid(exc), True)
        try:
            tenant = tenant_of(ctx)
            # A turn or a search blocks: off the event loop, and waited for even if cancelled.
            text = await anyio.to_thread.run_sync(tool.run, runtime, tenant, args)
        except RecalldError as exc:
            return _result(exc.message, True)
        except Exception:
            log.exception("MCP tool %s failed", tool.name)
            return _result("internal error (the server's log has the details)", True)
        return _result(text, False)

    return Server(
        "recalld",
        version=_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _result(text: str, is_error: bool) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], is_error=is_error
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recalld")
    except PackageNotFoundError:
        return "0.0.0"


async def serve_stdio(runtime: Runtime, tenant: str) -> None:
    """Talk MCP on stdin and stdout until the client closes stdin."""
    server = build(runtime, lambda _ctx: tenant)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def scope_tenant(ctx: ServerRequestContext[Any, Any]) -> str:
    request = ctx.request
    tenant = request.scope.get("state", {}).get(TENANT) if isinstance(request, Request) else None
    if not isinstance(tenant, str):
        raise Unauthorized("no tenant for this MCP request")
    return tenant
