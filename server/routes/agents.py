"""/v1/agents: create, list, read, update and delete agents."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from agent_runtime.storage.tables import Agent
from server.api import Call, Operation
from server.responses import AgentOut, AgentPage
from server.schemas import AgentCreate, AgentEdit, AgentList, AgentPath


async def create_agent(call: Call) -> AgentOut:
    spec = call.body(AgentCreate).spec()
    agent = await run_in_threadpool(call.runtime.create_agent, spec, tenant=call.tenant)
    return AgentOut.of(agent)


async def list_agents(call: Call) -> AgentPage:
    query = call.query(AgentList)
    rows = await run_in_threadpool(
        call.runtime.list_agents,
        tenant=call.tenant,
        limit=query.limit + 1,
        after=query.after,
        name=query.name,
    )
    page = rows[: query.limit]
    tools = await run_in_threadpool(call.runtime.custom_tools.attached_names, [a.id for a in page])
    return AgentPage(
        data=[AgentOut.of(a, tools[a.id]) for a in page],
        next=page[-1].id if len(rows) > query.limit else None,
    )


async def get_agent(call: Call) -> AgentOut:
    agent_id = call.path(AgentPath).agent_id
    agent = await run_in_threadpool(call.runtime.get_agent, agent_id, tenant=call.tenant)
    return await _with_tools(call, agent)


async def update_agent(call: Call) -> AgentOut:
    agent_id = call.path(AgentPath).agent_id
    patch = call.body(AgentEdit).patch()
    agent = await run_in_threadpool(call.runtime.update_agent, agent_id, patch, tenant=call.tenant)
    return await _with_tools(call, agent)


async def _with_tools(call: Call, agent: Agent) -> AgentOut:
    tools = await run_in_threadpool(call.runtime.custom_tools.attached_names, [agent.id])
    return AgentOut.of(agent, tools[agent.id])


async def delete_agent(call: Call) -> None:
    agent_id = call.path(AgentPath).agent_id
    await run_in_threadpool(call.runtime.delete_agent, agent_id, tenant=call.tenant)


operations = [
    Operation(
        "POST",
        "/v1/agents",
        create_agent,
        "Create an agent",
        "Blocks are created for it; block_ids attaches existing shared blocks.",
        body=AgentCreate,
        response=AgentOut,
        status=201,
        errors=(404, 409),
    ),
    Operation(
        "GET",
        "/v1/agents",
        list_agents,
        "List agents, oldest first",
        query=AgentList,
        response=AgentPage,
    ),
    Operation(
        "GET",
        "/v1/agents/{agent_id}",
        get_agent,
        "Read an agent",
        path_params=AgentPath,
        response=AgentOut,
        errors=(404,),
    ),
    Operation(
        "PATCH",
        "/v1/agents/{agent_id}",
        update_agent,
        "Change an agent's name, model, window, instructions or step limit",
        path_params=AgentPath,
        body=AgentEdit,
        response=AgentOut,
        errors=(404,),
    ),
    Operation(
        "DELETE",
        "/v1/agents/{agent_id}",
        delete_agent,
        "Delete an agent with its messages, passages and unshared blocks",
        path_params=AgentPath,
        status=204,
        errors=(404,),
    ),
]
