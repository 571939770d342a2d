"""/v1/agents/{id}/archival: list, search, insert and delete archival passages."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_runtime.errors import InvalidInput
from server.context import caller
from server.schemas import (
    field,
    hit_out,
    json_object,
    parse_time,
    passage_out,
    query_int,
    query_list,
    reject_unknown,
    string_list,
)


async def archival(request: Request) -> Response:
    """
    ---
    summary: List passages, or search them with query (hybrid keyword + meaning)
    parameters:
      - {name: query, in: query}
      - {name: tags, in: query, description: comma-separated; passages must carry all}
      - {name: start, in: query, description: ISO date or datetime}
      - {name: end, in: query, description: ISO date (whole day) or datetime}
      - {name: limit, in: query, schema: {type: integer}}
      - {name: offset, in: query, schema: {type: integer}}
      - {name: after, in: query, description: passage id cursor when listing}
    responses:
      200: {description: "{data: [passage], total?: matches}"}
    """
    who = caller(request)
    agent_id = request.path_params["agent_id"]
    params = request.query_params
    limit = query_int(request, "limit", 10 if params.get("query") else 50, 1, 500)
    if params.get("query"):
        hits, total = await run_in_threadpool(
            who.runtime.search_archival,
            agent_id,
            params["query"],
            tenant=who.tenant,
            tags=query_list(request, "tags"),
            start=parse_time(params.get("start"), "start"),
            end=parse_time(params.get("end"), "end", end=True),
            limit=limit,
            offset=query_int(request, "offset", 0, 0, 10_000),
        )
        return JSONResponse({"data": [hit_out(h) for h in hits], "total": total})
    after = query_int(request, "after", 0, 0, 2**62)
    rows = await run_in_threadpool(
        who.runtime.passages, agent_id, tenant=who.tenant, limit=limit, after=after or None
    )
    return JSONResponse(
        {
            "data": [passage_out(p) for p in rows],
            "next": rows[-1].id if len(rows) == limit else None,
        }
    )


async def insert(request: Request) -> Response:
    """
    ---
    summary: Insert a passage
    description: "created_at (optional) is the time of the event the passage records."
    responses:
      201: {description: The passage}
    """
    who = caller(request)
    body = await json_object(request)
    reject_unknown(body, {"text", "tags", "created_at"})
    text = field(body, "text", str)
    created_at = parse_time(field(body, "created_at", str, None), "created_at")
    passage = await run_in_threadpool(
        who.runtime.insert_passage,
        request.path_params["agent_id"],
        text,
        tags=string_list(body, "tags"),
        created_at=created_at,
        tenant=who.tenant,
    )
    return JSONResponse(passage_out(passage), status_code=201)


async def delete(request: Request) -> Response:
    """
    ---
    summary: Delete a passage
    responses:
      204: {description: Deleted}
    """
    who = caller(request)
    try:
        passage_id = int(request.path_params["passage_id"])
    except ValueError as exc:
        raise InvalidInput("passage id must be a number", field="passage_id") from exc
    await run_in_threadpool(
        who.runtime.delete_passage,
        request.path_params["agent_id"],
        passage_id,
        tenant=who.tenant,
    )
    return Response(status_code=204)


routes = [
    Route("/v1/agents/{agent_id}/archival", archival, methods=["GET"]),
    Route("/v1/agents/{agent_id}/archival", insert, methods=["POST"]),
    Route("/v1/agents/{agent_id}/archival/{passage_id}", delete, methods=["DELETE"]),
]
