"""Jobs: submit a goal to an agent, watch it (also as resumable Server-Sent Events), cancel it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from agent_runtime.jobs.queue import TERMINAL
from agent_runtime.storage.tables import JobEvent
from server import sse
from server.api import Call, Operation
from server.responses import JobOut, JobPage, timestamp
from server.schemas import AgentPath, EventsHeaders, EventsQuery, JobCreate, JobList, JobPath

POLL_SECONDS = 0.25


async def submit_job(call: Call) -> JobOut:
    body = call.body(JobCreate)
    job = await run_in_threadpool(
        call.runtime.jobs.submit,
        call.path(AgentPath).agent_id,
        body.goal,
        tenant=call.tenant,
        max_steps=body.max_steps,
        max_duration_seconds=body.max_duration,
        schedule=body.schedule,
    )
    return JobOut.of(job)


async def list_jobs(call: Call) -> JobPage:
    query = call.query(JobList)
    rows = await run_in_threadpool(
        call.runtime.jobs.list,
        tenant=call.tenant,
        agent_id=query.agent_id,
        status=query.status,
        limit=query.limit + 1,
        after=query.after,
    )
    page = rows[: query.limit]
    return JobPage(
        data=[JobOut.of(j) for j in page],
        next=page[-1].id if len(rows) > query.limit else None,
    )


async def get_job(call: Call) -> JobOut:
    job_id = call.path(JobPath).job_id
    return JobOut.of(await run_in_threadpool(call.runtime.jobs.get, job_id, tenant=call.tenant))


async def cancel_job(call: Call) -> JobOut:
    job_id = call.path(JobPath).job_id
    job = await run_in_threadpool(call.runtime.jobs.cancel, job_id, tenant=call.tenant)
    return JobOut.of(job)


def _event(row: JobEvent) -> str:
    return sse.event(row.kind, {**row.data, "at": timestamp(row.created_at)}, row.id)


async def job_events(call: Call) -> StreamingResponse:
    job_id = call.path(JobPath).job_id
    resume = call.headers(EventsHeaders).last_event_id
    after = resume if resume is not None else call.query(EventsQuery).after or 0
    jobs, tenant = call.runtime.jobs, call.tenant
    await run_in_threadpool(jobs.get, job_id, tenant=tenant)

    async def stream() -> AsyncIterator[str]:
        cursor = after
        while True:
            batch = await run_in_threadpool(jobs.events, job_id, tenant=tenant, after=cursor)
            for row in batch:
                cursor = row.id or cursor
                yield _event(row)
            if batch:
                continue
            job = await run_in_threadpool(jobs.get, job_id, tenant=tenant)
            if job.status in TERMINAL:
                for row in await run_in_threadpool(
                    jobs.events, job_id, tenant=tenant, after=cursor
                ):
                    yield _event(row)
                return
            await asyncio.sleep(POLL_SECONDS)

    return sse.response(stream(), f"the events of {job_id}")


operations = [
    Operation(
        "POST",
        "/v1/agents/{agent_id}/jobs",
        submit_job,
        "Hand an agent a goal to work on by itself",
        "schedule (optional): an interval like 1h or a five-field cron expression (UTC); the job "
        "then runs again after each run.",
        path_params=AgentPath,
        body=JobCreate,
        response=JobOut,
        status=201,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/jobs",
        list_jobs,
        "List jobs, oldest id first",
        query=JobList,
        response=JobPage,
    ),
    Operation(
        "GET",
        "/v1/jobs/{job_id}",
        get_job,
        "A job's status, steps, tokens, last progress note, result or error",
        path_params=JobPath,
        response=JobOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/jobs/{job_id}/cancel",
        cancel_job,
        "Cancel a job; a running job stops before its next step",
        path_params=JobPath,
        response=JobOut,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/jobs/{job_id}/events",
        job_events,
        "A job's events as Server-Sent Events, until it ends",
        "Resume with the Last-Event-ID header (or ?after=ID). Events: status, step, progress, "
        "cancel_requested, scheduled; error if the stream fails.",
        path_params=JobPath,
        query=EventsQuery,
        headers=EventsHeaders,
        events={"*": None},
        errors=(404,),
    ),
]
