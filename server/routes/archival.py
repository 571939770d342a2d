"""/v1/agents/{id}/archival: list, search, insert and delete archival passages."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.responses import ArchivalOut, HitOut, PassageOut
from server.schemas import AgentPath, ArchivalList, PassageCreate, PassagePath


async def list_passages(call: Call) -> ArchivalOut:
    agent_id = call.path(AgentPath).agent_id
    query = call.query(ArchivalList)
    if query.query is not None:
        limit = query.limit or 10
        hits, total = await run_in_threadpool(
            call.runtime.search_archival,
            agent_id,
            query.query,
            tenant=call.tenant,
            tags=query.tags,
            start=query.start,
            end=query.end,
            limit=limit,
            offset=query.offset,
        )
        return ArchivalOut(data=[HitOut.of(h) for h in hits], total=total)
    limit = query.limit or 50
    rows = await run_in_threadpool(
        call.runtime.passages, agent_id, tenant=call.tenant, limit=limit, after=query.after
    )
    return ArchivalOut(
        data=[PassageOut.of(p) for p in rows],
        next=rows[-1].id if len(rows) == limit else None,
    )


async def insert_passage(call: Call) -> PassageOut:
    body = call.body(PassageCreate)
    passage = await run_in_threadpool(
        call.runtime.insert_passage,
        call.path(AgentPath).agent_id,
        body.text,
        tags=body.tags or [],
        created_at=body.created_at,
        tenant=call.tenant,
        expires_at=body.expiry(),
    )
    return PassageOut.of(passage)


async def delete_passage(call: Call) -> None:
    path = call.path(PassagePath)
    await run_in_threadpool(
        call.runtime.delete_passage, path.agent_id, path.passage_id, tenant=call.tenant
    )


operations = [
    Operation(
        "GET",
        "/v1/agents/{agent_id}/archival",
        list_passages,
        "List passages, or search them with query (hybrid keyword + meaning)",
        "A listing gives data (passages) and next, the cursor for after; a search gives data "
        "(hits) and total. start and end filter a search by time.",
        path_params=AgentPath,
        query=ArchivalList,
        response=ArchivalOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/archival",
        insert_passage,
        "Insert a passage",
        "created_at (optional) is the time of the event the passage records.",
        path_params=AgentPath,
        body=PassageCreate,
        response=PassageOut,
        status=201,
        errors=(404,),
    ),
    Operation(
        "DELETE",
        "/v1/agents/{agent_id}/archival/{passage_id}",
        delete_passage,
        "Delete a passage",
        path_params=PassagePath,
        status=204,
        errors=(404,),
    ),
]
