"""/v1/mcp-servers: a tenant's MCP servers, whose tools become custom tools to attach."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.mcp_models import McpServerCreate, McpServerOut, McpServerPath, McpServersOut


async def create_server(call: Call) -> McpServerOut:
    fields = call.body(McpServerCreate).model_dump()
    servers = call.runtime.custom_tools.mcp
    return McpServerOut.of(await run_in_threadpool(servers.create, fields, tenant=call.tenant))


async def list_servers(call: Call) -> McpServersOut:
    found = await run_in_threadpool(call.runtime.custom_tools.mcp.listing, tenant=call.tenant)
    return McpServersOut(data=[McpServerOut.of(f) for f in found])


async def get_server(call: Call) -> McpServerOut:
    server = call.path(McpServerPath).server
    servers = call.runtime.custom_tools.mcp
    return McpServerOut.of(await run_in_threadpool(servers.get, server, tenant=call.tenant))


async def refresh_server(call: Call) -> McpServerOut:
    server = call.path(McpServerPath).server
    servers = call.runtime.custom_tools.mcp
    return McpServerOut.of(await run_in_threadpool(servers.refresh, server, tenant=call.tenant))


async def delete_server(call: Call) -> None:
    server = call.path(McpServerPath).server
    await run_in_threadpool(call.runtime.custom_tools.mcp.delete, server, tenant=call.tenant)


_ONE = "/v1/mcp-servers/{server}"

operations = [
    Operation(
        "POST",
        "/v1/mcp-servers",
        create_server,
        "Register an MCP server and take its tools",
        "Lists the server's tools with the official MCP SDK and saves each as a custom tool "
        "named SERVER__TOOL, to attach like any other. URLs must start with a prefix in "
        "RECALLD_ALLOWED_TOOL_URLS; a stdio command must be one RECALLD_MCP_COMMANDS names.",
        body=McpServerCreate,
        response=McpServerOut,
        status=201,
        errors=(409, 502),
    ),
    Operation(
        "GET", "/v1/mcp-servers", list_servers, "The tenant's MCP servers", response=McpServersOut
    ),
    Operation(
        "GET",
        _ONE,
        get_server,
        "Read an MCP server and its tools (by id or name)",
        path_params=McpServerPath,
        response=McpServerOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        _ONE + "/refresh",
        refresh_server,
        "List an MCP server's tools again",
        "New tools are added, changed ones updated, and tools it no longer offers are removed "
        "and detached from every agent.",
        path_params=McpServerPath,
        response=McpServerOut,
        errors=(404, 502),
    ),
    Operation(
        "DELETE",
        _ONE,
        delete_server,
        "Delete an MCP server and its tools (detaching them everywhere)",
        path_params=McpServerPath,
        status=204,
        errors=(404,),
    ),
]
