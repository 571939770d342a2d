"""/v1/agents: create, list, read, update and delete agents."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_runtime.specs import AgentPatch, AgentSpec
from server.context import caller
from server.schemas import (
    agent_out,
    block_spec,
    field,
    json_object,
    query_int,
    reject_unknown,
    string_list,
)

CREATE_FIELDS = {
    "name",
    "model",
    "model_base_url",
    "context_window",
    "embedding",
    "system",
    "persona",
    "human",
    "blocks",
    "block_ids",
    "max_steps",
}
PATCH_FIELDS = {"name", "model", "model_base_url", "context_window", "system", "max_steps"}


async def create_agent(request: Request) -> Response:
    """
    ---
    summary: Create an agent
    description: Blocks are created for it; block_ids attaches existing shared blocks.
    responses:
      201: {description: The new agent}
      422: {description: Invalid input; error.field names the field}
    """
    who = caller(request)
    body = await json_object(request)
    reject_unknown(body, CREATE_FIELDS)
    raw_blocks = field(body, "blocks", list, [])
    spec = AgentSpec(
        name=field(body, "name", str),
        model=field(body, "model", str, None),
        model_base_url=field(body, "model_base_url", str, None),
        context_window=field(body, "context_window", int, None),
        embedding=field(body, "embedding", str, None),
        system=field(body, "system", str, None),
        persona=field(body, "persona", str, None),
        human=field(body, "human", str, None),
        blocks=[block_spec(b, f"blocks[{i}]") for i, b in enumerate(raw_blocks)],
        block_ids=string_list(body, "block_ids"),
        max_steps=field(body, "max_steps", int, None),
    )
    agent = await run_in_threadpool(who.runtime.create_agent, spec, tenant=who.tenant)
    return JSONResponse(agent_out(agent), status_code=201)


async def list_agents(request: Request) -> Response:
    """
    ---
    summary: List agents, oldest id first
    parameters:
      - {name: limit, in: query, schema: {type: integer}}
      - {name: after, in: query, description: cursor from the previous page's next}
      - {name: name, in: query, description: only agents with this name}
    responses:
      200: {description: "{data: [agent], next: cursor or null}"}
    """
    who = caller(request)
    limit = query_int(request, "limit", 50, 1, 500)
    rows = await run_in_threadpool(
        who.runtime.list_agents,
        tenant=who.tenant,
        limit=limit + 1,
        after=request.query_params.get("after"),
        name=request.query_params.get("name"),
    )
    page = rows[:limit]
    return JSONResponse(
        {
            "data": [agent_out(a) for a in page],
            "next": page[-1].id if len(rows) > limit else None,
        }
    )


async def get_agent(request: Request) -> Response:
    """
    ---
    summary: Read an agent
    responses:
      200: {description: The agent}
      404: {description: No such agent for this tenant}
    """
    who = caller(request)
    agent = await run_in_threadpool(
        who.runtime.get_agent, request.path_params["agent_id"], tenant=who.tenant
    )
    return JSONResponse(agent_out(agent))


async def update_agent(request: Request) -> Response:
    """
    ---
    summary: Change an agent's name, model, window, instructions or step limit
    responses:
      200: {description: The updated agent}
    """
    who = caller(request)
    body = await json_object(request)
    reject_unknown(body, PATCH_FIELDS)
    patch = AgentPatch(
        name=field(body, "name", str, None),
        model=field(body, "model", str, None),
        model_base_url=field(body, "model_base_url", str, None),
        context_window=field(body, "context_window", int, None),
        system=field(body, "system", str, None),
        max_steps=field(body, "max_steps", int, None),
    )
    agent = await run_in_threadpool(
        who.runtime.update_agent, request.path_params["agent_id"], patch, tenant=who.tenant
    )
    return JSONResponse(agent_out(agent))


async def delete_agent(request: Request) -> Response:
    """
    ---
    summary: Delete an agent with its messages, passages and unshared blocks
    responses:
      204: {description: Deleted}
    """
    who = caller(request)
    await run_in_threadpool(
        who.runtime.delete_agent, request.path_params["agent_id"], tenant=who.tenant
    )
    return Response(status_code=204)


routes = [
    Route("/v1/agents", create_agent, methods=["POST"]),
    Route("/v1/agents", list_agents, methods=["GET"]),
    Route("/v1/agents/{agent_id}", get_agent, methods=["GET"]),
    Route("/v1/agents/{agent_id}", update_agent, methods=["PATCH"]),
    Route("/v1/agents/{agent_id}", delete_agent, methods=["DELETE"]),
]
