"""Memory history: a block's versions and restoring one (by an agent's label or a block's id),
archival memory's audit trail, and an agent's memory as of a time."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.history_models import (
    AsOfQuery,
    BlockHistoryOut,
    HistoryQuery,
    MemoryAsOfOut,
    PassageEventOut,
    PassageHistoryOut,
    PassageHistoryQuery,
    RestoreBody,
    RestoredOut,
    VersionOut,
)
from server.responses import BlockOut
from server.schemas import AgentBlockPath, AgentPath, BlockPath


async def _history(call: Call, key: str, agent_id: str | None) -> BlockHistoryOut:
    query = call.query(HistoryQuery)
    block, rows = await run_in_threadpool(
        call.runtime.history.versions,
        call.tenant,
        key,
        agent_id=agent_id,
        limit=query.limit + 1,  # one more: the last one's old value, and whether more exist
        before=query.before,
    )
    return BlockHistoryOut.of(block, rows, query.limit)


async def agent_block_history(call: Call) -> BlockHistoryOut:
    path = call.path(AgentBlockPath)
    return await _history(call, path.label, path.agent_id)


async def block_history(call: Call) -> BlockHistoryOut:
    return await _history(call, call.path(BlockPath).block_id, None)


async def _restore(call: Call, key: str, agent_id: str | None) -> RestoredOut:
    version = call.body(RestoreBody).version
    block, newest = await run_in_threadpool(
        call.runtime.history.restore, call.tenant, key, version, agent_id=agent_id
    )
    return RestoredOut(block=BlockOut.of(block), version=VersionOut.of(newest, None))


async def restore_agent_block(call: Call) -> RestoredOut:
    path = call.path(AgentBlockPath)
    return await _restore(call, path.label, path.agent_id)


async def restore_block(call: Call) -> RestoredOut:
    return await _restore(call, call.path(BlockPath).block_id, None)


async def memory_as_of(call: Call) -> MemoryAsOfOut:
    agent_id = call.path(AgentPath).agent_id
    at = call.query(AsOfQuery).as_of
    memory = await run_in_threadpool(call.runtime.history.as_of, call.tenant, agent_id, at)
    return MemoryAsOfOut.of(memory)


async def archival_history(call: Call) -> PassageHistoryOut:
    agent_id = call.path(AgentPath).agent_id
    query = call.query(PassageHistoryQuery)
    rows = await run_in_threadpool(
        call.runtime.history.passages,
        call.tenant,
        agent_id,
        limit=query.limit,
        after=query.after,
    )
    return PassageHistoryOut(
        data=[PassageEventOut.of(r) for r in rows],
        next=rows[-1].id if len(rows) == query.limit else None,
    )


HISTORY = "Every version, newest first, with its old and new value and who made the change "
RESTORE = "Brings an earlier version back as a new version (history is never rewritten); the "
RESTORE += "block's limit still applies (413 when the old value is over it)."

operations = [
    Operation(
        "GET",
        "/v1/agents/{agent_id}/blocks/{label}/history",
        agent_block_history,
        "A block's history, by the agent's label",
        HISTORY + "(agent with its turn, api, import, migration). next pages on (before).",
        path_params=AgentBlockPath,
        query=HistoryQuery,
        response=BlockHistoryOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/blocks/{label}/restore",
        restore_agent_block,
        "Restore one of an agent's blocks to a version",
        RESTORE,
        path_params=AgentBlockPath,
        body=RestoreBody,
        response=RestoredOut,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/blocks/{block_id}/history",
        block_history,
        "A block's history",
        HISTORY + "(agent with its turn, api, import, migration). next pages on (before).",
        path_params=BlockPath,
        query=HistoryQuery,
        response=BlockHistoryOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/blocks/{block_id}/restore",
        restore_block,
        "Restore a block to a version",
        RESTORE,
        path_params=BlockPath,
        body=RestoreBody,
        response=RestoredOut,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/agents/{agent_id}/memory",
        memory_as_of,
        "An agent's memory as it was at a time",
        "Its blocks (those attached now) at the version they had then, and its facts true "
        "then, as known now.",
        path_params=AgentPath,
        query=AsOfQuery,
        response=MemoryAsOfOut,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/agents/{agent_id}/archival/history",
        archival_history,
        "Archival memory's audit trail",
        "Each passage inserted, deleted or expired, oldest first, and by whom; a deleted "
        "passage's text is kept here.",
        path_params=AgentPath,
        query=PassageHistoryQuery,
        response=PassageHistoryOut,
        errors=(404,),
    ),
]
