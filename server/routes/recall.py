"""/v1/agents/{id}/recall and /context: search history; see what fills the context window."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_runtime.errors import InvalidInput
from server.context import caller
from server.schemas import context_out, hit_out, parse_time, query_int, query_list


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
    Route("/v1/agents/{agent_id}/context", context_window, methods=["GET"]),
]
