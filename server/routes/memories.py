"""/v1/memories: a tenant's fact memory. Write facts (the rules decide what they change),
search them (now, as of a time, or with their history), list, read, correct, retire and purge
them, and read each one's history. Every lookup is by the caller's tenant: another tenant's
fact id is a 404."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.specs import MessageInput
from agent_runtime.storage.tables import utcnow
from server.api import Call, Operation, accepted_response
from server.memory_models import (
    DeletedOut,
    DeleteQuery,
    FactEventOut,
    FactHistoryOut,
    FactHitOut,
    FactOut,
    FactPage,
    FactSearchOut,
    IngestionOut,
    IngestionPath,
    MemoryCreate,
    MemoryEdit,
    MemoryList,
    MemoryPath,
    MemorySearch,
    WriteOut,
)


async def add_memories(call: Call) -> WriteOut | Response:
    body = call.body(MemoryCreate)
    if (body.facts is None) == (body.messages is None):
        raise InvalidInput("send facts or messages (one of them)", field="facts")
    if body.facts is not None:
        facts = [f.input(body.metadata) for f in body.facts]
        result = await run_in_threadpool(
            call.runtime.facts.write, call.tenant, facts, body.scope(), actor=_actor(call)
        )
        return WriteOut.of(result, utcnow())
    messages = [MessageInput(m.role, m.content, m.created_at) for m in body.messages or []]
    done = await run_in_threadpool(
        call.runtime.ingestion.remember,
        call.tenant,
        messages,
        body.scope(),
        infer=body.infer,
        wait=body.wait,
        model=body.model,
    )
    if done.result is not None:
        return WriteOut.of(done.result, utcnow())
    assert done.extraction is not None
    return accepted_response(IngestionOut.of(done.extraction))


async def get_ingestion(call: Call) -> IngestionOut:
    ingestion_id = call.path(IngestionPath).ingestion_id
    row = await run_in_threadpool(call.runtime.ingestion.get, call.tenant, ingestion_id)
    return IngestionOut.of(row)


async def search_memories(call: Call) -> FactSearchOut:
    body = call.body(MemorySearch)
    hits = await run_in_threadpool(
        call.runtime.facts.search,
        call.tenant,
        body.query,
        body.scope(),
        filters=body.filters,
        as_of=body.as_of,
        include_history=body.include_history,
        limit=body.limit,
        threshold=body.threshold,
    )
    now = utcnow()
    return FactSearchOut(data=[FactHitOut.hit(h, now) for h in hits])


async def list_memories(call: Call) -> FactPage:
    query = call.query(MemoryList)
    rows = await run_in_threadpool(
        call.runtime.facts.list_,
        call.tenant,
        query.scope(),
        filters=query.filters(),
        as_of=query.as_of,
        include_history=query.include_history,
        limit=query.limit,
        after=query.after,
    )
    now = utcnow()
    return FactPage(
        data=[FactOut.of(f, now) for f in rows],
        next=rows[-1].id if len(rows) == query.limit else None,
    )


async def get_memory(call: Call) -> FactOut:
    fact_id = call.path(MemoryPath).fact_id
    fact = await run_in_threadpool(call.runtime.facts.get, call.tenant, fact_id)
    return FactOut.of(fact, utcnow())


async def edit_memory(call: Call) -> FactOut:
    fact_id = call.path(MemoryPath).fact_id
    patch = call.body(MemoryEdit).patch()
    fact = await run_in_threadpool(
        call.runtime.facts.patch, call.tenant, fact_id, patch, actor=_actor(call)
    )
    return FactOut.of(fact, utcnow())


async def delete_memory(call: Call) -> DeletedOut:
    fact_id = call.path(MemoryPath).fact_id
    purge = call.query(DeleteQuery).purge
    done = await run_in_threadpool(
        call.runtime.facts.delete, call.tenant, fact_id, purge=purge, actor=_actor(call)
    )
    return DeletedOut.model_validate(done)


async def memory_history(call: Call) -> FactHistoryOut:
    fact_id = call.path(MemoryPath).fact_id
    events = await run_in_threadpool(call.runtime.facts.history, call.tenant, fact_id)
    return FactHistoryOut(fact_id=fact_id, data=[FactEventOut.of(e) for e in events])


def _actor(call: Call) -> str:
    """Who made a change, for the history: the API (keys are never written down)."""
    return "api"


operations = [
    Operation(
        "POST",
        "/v1/memories",
        add_memories,
        "Write facts",
        "Each fact is a statement (text) or a slot (subject, attribute, value). The rules place "
        "it: a single-valued slot's newer value supersedes the current one (kept as history); a "
        "value older than the current one is filed as past; many-valued slots accumulate; "
        "negates retires the value it names; the same value again merges (more evidence). All "
        "or nothing. The answer says what changed. With messages instead of facts, the facts "
        "are extracted in the background: the answer is a 202 with an ingestion to poll, or "
        "with wait=true what changed; infer=false stores each message as a fact.",
        body=MemoryCreate,
        response=WriteOut,
        status=201,
        errors=(404,),
        accepted=IngestionOut,
    ),
    Operation(
        "GET",
        "/v1/memories/ingestions/{ingestion_id}",
        get_ingestion,
        "An ingestion of messages",
        "Its status (queued, running, done, parked), attempts, last error, and once done the "
        "facts it changed.",
        path_params=IngestionPath,
        response=IngestionOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/memories/search",
        search_memories,
        "Search facts (keywords and meaning)",
        "Facts true now by default; as_of gives those true then (as known now); "
        "include_history adds retired ones, marked by status. filters: a field (kind, subject, "
        "attribute, value, cardinality, valid_at, invalid_at, created_at, expires_at, "
        "metadata.<key>) and a value or operators (eq, ne, in, gt, gte, lt, lte). threshold is "
        "the least cosine similarity a hit must have.",
        body=MemorySearch,
        response=FactSearchOut,
    ),
    Operation(
        "GET",
        "/v1/memories",
        list_memories,
        "List facts",
        "In id order; next is the cursor for after.",
        query=MemoryList,
        response=FactPage,
    ),
    Operation(
        "GET",
        "/v1/memories/{fact_id}",
        get_memory,
        "Read a fact",
        path_params=MemoryPath,
        response=FactOut,
        errors=(404,),
    ),
    Operation(
        "PATCH",
        "/v1/memories/{fact_id}",
        edit_memory,
        "Correct a fact",
        "Changes text, value, kind, metadata or expires_at in place; the history keeps the old "
        "value.",
        path_params=MemoryPath,
        body=MemoryEdit,
        response=FactOut,
        errors=(404,),
    ),
    Operation(
        "DELETE",
        "/v1/memories/{fact_id}",
        delete_memory,
        "Retire a fact, or purge it",
        "Retires the fact, keeping its history. With purge=true its text, vectors and the "
        "values its history held are erased; the answer says what was erased.",
        path_params=MemoryPath,
        query=DeleteQuery,
        response=DeletedOut,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/memories/{fact_id}/history",
        memory_history,
        "A fact's history",
        "Every change: event, old and new value, actor, time.",
        path_params=MemoryPath,
        response=FactHistoryOut,
        errors=(404,),
    ),
]
