"""/v1/agents/{id}/recall and /context: search and import history; see what fills the context
window."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_runtime.errors import InvalidInput
from server.context import caller
from server.schemas import (
    context_out,
    field,
    hit_out,
    json_object,
    message_input,
    parse_time,
    query_int,
    query_list,
    reject_unknown,
)


async def recall(request: Request) -> Response:
    """
    ---
    summary: Search every message ever exchanged (hybrid keyword + meaning)
    parameters:
      - {name: query, in: query, required: true}
      - {name: roles, in: query, description: "comma-separated: user, assistant, tool"}
      - {name: start, in: query}
      - {name: end, in: query}
      - {name: limit, in: query, schema: {type: integer}}
      - {name: offset, in: query, schema: {type: integer}}
    responses:
      200: {description: "{data: [hit], total}"}
    """
    who = caller(request)
    params = request.query_params
    if not params.get("query"):
        raise InvalidInput("'query' is required", field="query")
    hits, total = await run_in_threadpool(
        who.runtime.search_recall,
        request.path_params["agent_id"],
        params["query"],
        tenant=who.tenant,
        roles=query_list(request, "roles"),
        start=parse_time(params.get("start"), "start"),
        end=parse_time(params.get("end"), "end", end=True),
        limit=query_int(request, "limit", 10, 1, 500),
        offset=query_int(request, "offset", 0, 0, 10_000),
    )
    return JSONResponse({"data": [hit_out(h) for h in hits], "total": total})


async def import_history(request: Request) -> Response:
    """
    ---
    summary: Import earlier history into recall memory
    description: >-
      Body {"messages": [{"role": "user" | "assistant" | "system", "content": "...",
      "created_at": ISO time, optional}]}, at most 10,000. The messages keep their order and times
      and become searchable by conversation_search; the context window is unchanged. One bad
      message rejects the whole call (422, naming it).
    responses:
      201: {description: "{imported: n}"}
    """
    who = caller(request)
    body = await json_object(request)
    reject_unknown(body, {"messages"})
    raw = field(body, "messages", list)
    items = [message_input(item, f"messages[{i}]") for i, item in enumerate(raw)]
    imported = await run_in_threadpool(
        who.runtime.import_messages, request.path_params["agent_id"], items, tenant=who.tenant
    )
    return JSONResponse({"imported": imported}, status_code=201)


async def context_window(request: Request) -> Response:
    """
    ---
    summary: Token breakdown of the context window
    description: "system, blocks, summary, messages, tools, total and window, in tokens."
    responses:
      200: {description: The breakdown}
    """
    who = caller(request)
    breakdown = await run_in_threadpool(
        who.runtime.context, request.path_params["agent_id"], tenant=who.tenant
    )
    return JSONResponse(context_out(breakdown))


routes = [
    Route("/v1/agents/{agent_id}/recall", recall, methods=["GET"]),
    Route("/v1/agents/{agent_id}/recall", import_history, methods=["POST"]),
    Route("/v1/agents/{agent_id}/context", context_window, methods=["GET"]),
]
