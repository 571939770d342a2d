"""Core memory blocks: an agent's blocks by label, and shared blocks under /v1/blocks."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_runtime.specs import BlockPatch
from server.context import caller
from server.schemas import block_out, block_spec, field, json_object, reject_unknown

PATCH_FIELDS = {"value", "limit", "description", "read_only"}


def _patch(body: dict[str, Any]) -> BlockPatch:
    reject_unknown(body, PATCH_FIELDS)
    return BlockPatch(
        value=field(body, "value", str, None),
        limit=field(body, "limit", int, None),
        description=field(body, "description", str, None),
        read_only=field(body, "read_only", bool, None),
    )


async def agent_blocks(request: Request) -> Response:
    """
    ---
    summary: An agent's core memory blocks
    responses:
      200: {description: "{data: [block]}"}
    """
    who = caller(request)
    rows = await run_in_threadpool(
        who.runtime.blocks, request.path_params["agent_id"], tenant=who.tenant
    )
    return JSONResponse({"data": [block_out(b) for b in rows]})


async def agent_block(request: Request) -> Response:
    """
    ---
    summary: One of an agent's blocks, by label
    responses:
      200: {description: The block}
    """
    who = caller(request)
    block = await run_in_threadpool(
        who.runtime.block,
        request.path_params["agent_id"],
        request.path_params["label"],
        tenant=who.tenant,
    )
    return JSONResponse(block_out(block))


async def edit_agent_block(request: Request) -> Response:
    """
    ---
    summary: Edit one of an agent's blocks (value, limit, description, read_only)
    responses:
      200: {description: The block}
      413: {description: The value is over the block's limit}
    """
    who = caller(request)
    patch = _patch(await json_object(request))
    block = await run_in_threadpool(
        who.runtime.update_block,
        request.path_params["agent_id"],
        request.path_params["label"],
        patch,
        tenant=who.tenant,
    )
    return JSONResponse(block_out(block))


async def attach(request: Request) -> Response:
    """
    ---
    summary: Attach a shared block to an agent
    responses:
      204: {description: Attached}
      409: {description: The agent already has a block with that label}
    """
    who = caller(request)
    await run_in_threadpool(
        who.runtime.attach_block,
        request.path_params["agent_id"],
        request.path_params["block_id"],
        tenant=who.tenant,
    )
    return Response(status_code=204)


async def detach(request: Request) -> Response:
    """
    ---
    summary: Detach a block from an agent (the block itself stays)
    responses:
      204: {description: Detached}
    """
    who = caller(request)
    await run_in_threadpool(
        who.runtime.detach_block,
        request.path_params["agent_id"],
        request.path_params["block_id"],
        tenant=who.tenant,
    )
    return Response(status_code=204)


async def create_block(request: Request) -> Response:
    """
    ---
    summary: Create a block that agents can share
    responses:
      201: {description: The block}
    """
    who = caller(request)
    spec = block_spec(await json_object(request), "body")
    block = await run_in_threadpool(who.runtime.create_block, spec, tenant=who.tenant)
    return JSONResponse(block_out(block), status_code=201)


async def list_blocks(request: Request) -> Response:
    """
    ---
    summary: List the tenant's blocks
    parameters:
      - {name: label, in: query}
    responses:
      200: {description: "{data: [block]}"}
    """
    who = caller(request)
    rows = await run_in_threadpool(
        who.runtime.list_blocks, tenant=who.tenant, label=request.query_params.get("label")
    )
    return JSONResponse({"data": [block_out(b) for b in rows]})


async def get_block(request: Request) -> Response:
    """
    ---
    summary: Read a block and the agents it is attached to
    responses:
      200: {description: The block with agent_ids}
    """
    who = caller(request)
    block_id = request.path_params["block_id"]
    block = await run_in_threadpool(who.runtime.get_block, block_id, tenant=who.tenant)
    agents = await run_in_threadpool(who.runtime.block_agents, block_id, tenant=who.tenant)
    return JSONResponse({**block_out(block), "agent_ids": agents})


async def edit_block(request: Request) -> Response:
    """
    ---
    summary: Edit a block; every agent it is attached to sees the change
    responses:
      200: {description: The block}
    """
    who = caller(request)
    patch = _patch(await json_object(request))
    block = await run_in_threadpool(
        who.runtime.patch_block, request.path_params["block_id"], patch, tenant=who.tenant
    )
    return JSONResponse(block_out(block))


async def delete_block(request: Request) -> Response:
    """
    ---
    summary: Delete a block and detach it everywhere
    responses:
      204: {description: Deleted}
    """
    who = caller(request)
    await run_in_threadpool(
        who.runtime.delete_block, request.path_params["block_id"], tenant=who.tenant
    )
    return Response(status_code=204)


routes = [
    Route("/v1/agents/{agent_id}/blocks", agent_blocks, methods=["GET"]),
    Route("/v1/agents/{agent_id}/blocks/{label}", agent_block, methods=["GET"]),
    Route("/v1/agents/{agent_id}/blocks/{label}", edit_agent_block, methods=["PATCH"]),
    Route("/v1/agents/{agent_id}/blocks/{block_id}/attach", attach, methods=["POST"]),
    Route("/v1/agents/{agent_id}/blocks/{block_id}/detach", detach, methods=["POST"]),
    Route("/v1/blocks", create_block, methods=["POST"]),
    Route("/v1/blocks", list_blocks, methods=["GET"]),
    Route("/v1/blocks/{block_id}", get_block, methods=["GET"]),
    Route("/v1/blocks/{block_id}", edit_block, methods=["PATCH"]),
    Route("/v1/blocks/{block_id}", delete_block, methods=["DELETE"]),
]
