"""/v1/agents/{id}/recall and /context: search and import history; see what fills the context
window."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.responses import ContextOut, HitOut, ImportedOut, SearchOut
from server.schemas import AgentPath, ImportHistory, RecallSearch


async def search_recall(call: Call) -> SearchOut:
    query = call.query(RecallSearch)
    hits, total = await run_in_threadpool(
        call.runtime.search_recall,
        call.path(AgentPath).agent_id,
        query.query,
        tenant=call.tenant,
        roles=list(query.roles),
        start=query.start,
        end=query.end,
        limit=query.limit,
        offset=query.offset,
    )
    return SearchOut(data=[HitOut.of(h) for h in hits], total=total)


async def import_history(call: Call) -> ImportedOut:
    items = [m.input() for m in call.body(ImportHistory).messages]
    imported = await run_in_threadpool(
        call.runtime.import_messages, call.path(AgentPath).agent_id, items, tenant=call.tenant
    )
    return ImportedOut(imported=imported)


async def context_window(call: Call) -> ContextOut:
    agent_id = call.path(AgentPath).agent_id
    breakdown = await run_in_threadpool(call.runtime.context, agent_id, tenant=call.tenant)
    return ContextOut.of(breakdown)


operations = [
    Operation(
        "GET",
        "/v1/agents/{agent_id}/recall",
        search_recall,
        "Search every message ever exchanged (hybrid keyword + meaning)",
        path_params=AgentPath,
        query=RecallSearch,
        response=SearchOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/recall",
        import_history,
        "Import earlier history into recall memory",
        "The messages keep their order and times and become searchable by conversation_search; "
        "the context window is unchanged. One bad message rejects the whole call (422, naming "
        "it).",
        path_params=AgentPath,
        body=ImportHistory,
        response=ImportedOut,
        status=201,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/agents/{agent_id}/context",
        context_window,
        "What fills the context window",
        "Tokens of the system instructions, blocks, summary, messages and tools, their total and "
        "the window; the rendered system prompt and the running summary.",
        path_params=AgentPath,
        response=ContextOut,
        errors=(404,),
    ),
]
