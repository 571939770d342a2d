"""/v1/tools: a tenant's custom HTTP tools; /v1/agents/{id}/tools/{tool}: attach and detach."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.tool_models import AgentToolPath, ToolCreate, ToolEdit, ToolOut, ToolPath, ToolsOut


async def create_tool(call: Call) -> ToolOut:
    fields = call.body(ToolCreate).model_dump()
    row = await run_in_threadpool(call.runtime.custom_tools.create, fields, tenant=call.tenant)
    return ToolOut.of(row)


async def list_tools(call: Call) -> ToolsOut:
    rows = await run_in_threadpool(call.runtime.custom_tools.listing, tenant=call.tenant)
    return ToolsOut(data=[ToolOut.of(r) for r in rows])


async def get_tool(call: Call) -> ToolOut:
    tool = call.path(ToolPath).tool
    row = await run_in_threadpool(call.runtime.custom_tools.get, tool, tenant=call.tenant)
    return ToolOut.of(row)


async def update_tool(call: Call) -> ToolOut:
    tool = call.path(ToolPath).tool
    changes = call.body(ToolEdit).changes()
    tools = call.runtime.custom_tools
    row = await run_in_threadpool(tools.update, tool, changes, tenant=call.tenant)
    return ToolOut.of(row)


async def delete_tool(call: Call) -> None:
    tool = call.path(ToolPath).tool
    await run_in_threadpool(call.runtime.custom_tools.delete, tool, tenant=call.tenant)


async def attach_tool(call: Call) -> ToolOut:
    path = call.path(AgentToolPath)
    tools = call.runtime.custom_tools
    row = await run_in_threadpool(tools.attach, path.agent_id, path.tool, tenant=call.tenant)
    return ToolOut.of(row)


async def detach_tool(call: Call) -> None:
    path = call.path(AgentToolPath)
    tools = call.runtime.custom_tools
    await run_in_threadpool(tools.detach, path.agent_id, path.tool, tenant=call.tenant)


_ONE = "/v1/tools/{tool}"
_ATTACHED = "/v1/agents/{agent_id}/tools/{tool}"

operations = [
    Operation(
        "POST",
        "/v1/tools",
        create_tool,
        "Describe a custom HTTP tool",
        "The URL must start with a prefix in RECALLD_ALLOWED_TOOL_URLS; header values may name "
        "server secrets as ${secret:NAME}.",
        body=ToolCreate,
        response=ToolOut,
        status=201,
        errors=(409,),
    ),
    Operation("GET", "/v1/tools", list_tools, "The tenant's custom tools", response=ToolsOut),
    Operation(
        "GET",
        _ONE,
        get_tool,
        "Read a tool (by id or name)",
        path_params=ToolPath,
        response=ToolOut,
        errors=(404,),
    ),
    Operation(
        "PATCH",
        _ONE,
        update_tool,
        "Change a tool",
        path_params=ToolPath,
        body=ToolEdit,
        response=ToolOut,
        errors=(404, 409),
    ),
    Operation(
        "DELETE",
        _ONE,
        delete_tool,
        "Delete a tool (detaching it from every agent)",
        path_params=ToolPath,
        status=204,
        errors=(404,),
    ),
    Operation(
        "POST",
        _ATTACHED,
        attach_tool,
        "Attach a tool to an agent: its model sees it each step",
        path_params=AgentToolPath,
        response=ToolOut,
        errors=(404,),
    ),
    Operation(
        "DELETE",
        _ATTACHED,
        detach_tool,
        "Detach a tool from an agent",
        path_params=AgentToolPath,
        status=204,
        errors=(404,),
    ),
]
