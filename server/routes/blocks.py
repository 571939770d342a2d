"""Core memory blocks: an agent's blocks by label, and shared blocks under /v1/blocks."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.responses import BlockOut, BlocksOut, SharedBlockOut
from server.schemas import (
    AgentBlockPath,
    AgentPath,
    AttachPath,
    BlockCreate,
    BlockEdit,
    BlockList,
    BlockPath,
)


async def agent_blocks(call: Call) -> BlocksOut:
    agent_id = call.path(AgentPath).agent_id
    rows = await run_in_threadpool(call.runtime.blocks, agent_id, tenant=call.tenant)
    return BlocksOut(data=[BlockOut.of(b) for b in rows])


async def agent_block(call: Call) -> BlockOut:
    path = call.path(AgentBlockPath)
    block = await run_in_threadpool(
        call.runtime.block, path.agent_id, path.label, tenant=call.tenant
    )
    return BlockOut.of(block)


async def edit_agent_block(call: Call) -> BlockOut:
    path = call.path(AgentBlockPath)
    block = await run_in_threadpool(
        call.runtime.update_block,
        path.agent_id,
        path.label,
        call.body(BlockEdit).patch(),
        tenant=call.tenant,
    )
    return BlockOut.of(block)


async def attach_block(call: Call) -> None:
    path = call.path(AttachPath)
    await run_in_threadpool(
        call.runtime.attach_block, path.agent_id, path.block_id, tenant=call.tenant
    )


async def detach_block(call: Call) -> None:
    path = call.path(AttachPath)
    await run_in_threadpool(
        call.runtime.detach_block, path.agent_id, path.block_id, tenant=call.tenant
    )


async def create_block(call: Call) -> BlockOut:
    spec = call.body(BlockCreate).spec()
    block = await run_in_threadpool(call.runtime.create_block, spec, tenant=call.tenant)
    return BlockOut.of(block)


async def list_blocks(call: Call) -> BlocksOut:
    label = call.query(BlockList).label
    rows = await run_in_threadpool(call.runtime.list_blocks, tenant=call.tenant, label=label)
    return BlocksOut(data=[BlockOut.of(b) for b in rows])


async def get_block(call: Call) -> SharedBlockOut:
    block_id = call.path(BlockPath).block_id
    block = await run_in_threadpool(call.runtime.get_block, block_id, tenant=call.tenant)
    agents = await run_in_threadpool(call.runtime.block_agents, block_id, tenant=call.tenant)
    return SharedBlockOut.with_agents(block, agents)


async def edit_block(call: Call) -> BlockOut:
    block_id = call.path(BlockPath).block_id
    patch = call.body(BlockEdit).patch()
    block = await run_in_threadpool(call.runtime.patch_block, block_id, patch, tenant=call.tenant)
    return BlockOut.of(block)


async def delete_block(call: Call) -> None:
    block_id = call.path(BlockPath).block_id
    await run_in_threadpool(call.runtime.delete_block, block_id, tenant=call.tenant)


operations = [
    Operation(
        "GET",
        "/v1/agents/{agent_id}/blocks",
        agent_blocks,
        "An agent's core memory blocks",
        path_params=AgentPath,
        response=BlocksOut,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/agents/{agent_id}/blocks/{label}",
        agent_block,
        "One of an agent's blocks, by label",
        path_params=AgentBlockPath,
        response=BlockOut,
        errors=(404,),
    ),
    Operation(
        "PATCH",
        "/v1/agents/{agent_id}/blocks/{label}",
        edit_agent_block,
        "Edit one of an agent's blocks (value, limit, description, read_only)",
        "A value over the block's own limit is a 413.",
        path_params=AgentBlockPath,
        body=BlockEdit,
        response=BlockOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/blocks/{block_id}/attach",
        attach_block,
        "Attach a shared block to an agent",
        "409 if the agent already has a block with that label.",
        path_params=AttachPath,
        status=204,
        errors=(404, 409),
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/blocks/{block_id}/detach",
        detach_block,
        "Detach a block from an agent (the block itself stays)",
        path_params=AttachPath,
        status=204,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/blocks",
        create_block,
        "Create a block that agents can share",
        body=BlockCreate,
        response=BlockOut,
        status=201,
    ),
    Operation(
        "GET",
        "/v1/blocks",
        list_blocks,
        "List the tenant's blocks",
        query=BlockList,
        response=BlocksOut,
    ),
    Operation(
        "GET",
        "/v1/blocks/{block_id}",
        get_block,
        "Read a block and the agents it is attached to",
        path_params=BlockPath,
        response=SharedBlockOut,
        errors=(404,),
    ),
    Operation(
        "PATCH",
        "/v1/blocks/{block_id}",
        edit_block,
        "Edit a block; every agent it is attached to sees the change",
        path_params=BlockPath,
        body=BlockEdit,
        response=BlockOut,
        errors=(404,),
    ),
    Operation(
        "DELETE",
        "/v1/blocks/{block_id}",
        delete_block,
        "Delete a block and detach it everywhere",
        path_params=BlockPath,
        status=204,
        errors=(404,),
    ),
]
