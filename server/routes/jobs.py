"""Jobs: submit a goal to an agent, watch it (also as resumable Server-Sent Events), cancel it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent_runtime.errors import InvalidInput
from agent_runtime.jobs import TERMINAL, interval_seconds
from agent_runtime.storage.tables import JobEvent
from server.context import caller
from server.schemas import field, job_out, json_object, query_int, reject_unknown, time_out

POLL_SECONDS = 0.25


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    seconds = interval_seconds(str(value))
    if seconds is None:
        raise InvalidInput(
            "max_duration must be seconds or an interval like 90s, 30m, 2h", field="max_duration"
        )
    return float(seconds)


async def submit(request: Request) -> Response:
    """
    ---
    summary: Hand an agent a goal to work on by itself
    description: "schedule (optional): an interval like 1h or a five-field cron expression; the
      job then runs again after each run."
    responses:
      201: {description: The queued job}
    """
    who = caller(request)
    body = await json_object(request)
    reject_unknown(body, {"goal", "max_steps", "max_duration", "schedule"})
    job = await run_in_threadpool(
        who.runtime.jobs.submit,
        request.path_params["agent_id"],
        field(body, "goal", str),
        tenant=who.tenant,
        max_steps=field(body, "max_steps", int, 100),
        max_duration_seconds=_seconds(body.get("max_duration")),
        schedule=field(body, "schedule", str, None),
    )
    return JSONResponse(job_out(job), status_code=201)


async def list_jobs(request: Request) -> Response:
    """
    ---
    summary: List jobs, oldest id first
    parameters:
      - {name: agent_id, in: query}
      - {name: status, in: query, description: "queued, running, succeeded, failed, cancelled"}
      - {name: limit, in: query, schema: {type: integer}}
      - {name: after, in: query}
    responses:
      200: {description: "{data: [job], next}"}
    """
    who = caller(request)
    limit = query_int(request, "limit", 50, 1, 500)
    params = request.query_params
    rows = await run_in_threadpool(
        who.runtime.jobs.list,
        tenant=who.tenant,
        agent_id=params.get("agent_id"),
        status=params.get("status"),
        limit=limit + 1,
        after=params.get("after"),
    )
    page = rows[:limit]
    return JSONResponse(
        {"data": [job_out(j) for j in page], "next": page[-1].id if len(rows) > limit else None}
    )


async def get_job(request: Request) -> Response:
    """
    ---
    summary: A job's status, steps, tokens, last progress note, result or error
    responses:
      200: {description: The job}
    """
    who = caller(request)
    job = await run_in_threadpool(
        who.runtime.jobs.get, request.path_params["job_id"], tenant=who.tenant
    )
    return JSONResponse(job_out(job))


async def cancel(request: Request) -> Response:
    """
    ---
    summary: Cancel a job; a running job stops before its next step
    responses:
      200: {description: The job}
    """
    who = caller(request)
    job = await run_in_threadpool(
        who.runtime.jobs.cancel, request.path_params["job_id"], tenant=who.tenant
    )
    return JSONResponse(job_out(job))


def _sse(event: JobEvent) -> str:
    data = {**event.data, "at": time_out(event.created_at)}
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(data)}\n\n"


async def events(request: Request) -> Response:
    """
    ---
    summary: A job's events as Server-Sent Events, until it ends
    description: "Resume with the Last-Event-ID header (or ?after=ID). Events: status, step,
      progress, cancel_requested, scheduled."
    responses:
      200: {description: text/event-stream}
    """
    who = caller(request)
    job_id = request.path_params["job_id"]
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        after = int(raw)
    except ValueError as exc:
        raise InvalidInput("Last-Event-ID must be an event id", field="Last-Event-ID") from exc
    jobs = who.runtime.jobs
    await run_in_threadpool(jobs.get, job_id, tenant=who.tenant)

    async def stream() -> AsyncIterator[str]:
        cursor = after
        while True:
            batch = await run_in_threadpool(jobs.events, job_id, tenant=who.tenant, after=cursor)
            for event in batch:
                cursor = event.id or cursor
                yield _sse(event)
            if not batch:
                job = await run_in_threadpool(jobs.get, job_id, tenant=who.tenant)
                if job.status in TERMINAL:
                    tail = await run_in_threadpool(
                        jobs.events, job_id, tenant=who.tenant, after=cursor
                    )
                    for event in tail:
                        yield _sse(event)
                    return
                await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


routes = [
    Route("/v1/agents/{agent_id}/jobs", submit, methods=["POST"]),
    Route("/v1/jobs", list_jobs, methods=["GET"]),
    Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
    Route("/v1/jobs/{job_id}/cancel", cancel, methods=["POST"]),
    Route("/v1/jobs/{job_id}/events", events, methods=["GET"]),
]
