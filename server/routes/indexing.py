"""/v1/agents/{id}/index and /doctor: how an agent's rows stand in the vector index; retry
parked rows; compare the database with the index and repair it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.responses import DoctorOut, FindingOut, IndexOut, RetriedOut
from server.schemas import AgentPath, DoctorRequest


async def index_status(call: Call) -> IndexOut:
    agent_id = call.path(AgentPath).agent_id
    status = await run_in_threadpool(
        call.runtime.index_status, tenant=call.tenant, agent_id=agent_id
    )
    return IndexOut.model_validate(status)


async def retry_index(call: Call) -> RetriedOut:
    agent_id = call.path(AgentPath).agent_id
    retried = await run_in_threadpool(call.runtime.retry_indexing, agent_id, tenant=call.tenant)
    return RetriedOut(retried=retried)


async def doctor_agent(call: Call) -> DoctorOut:
    agent_id = call.path(AgentPath).agent_id
    repair = call.body(DoctorRequest).repair
    findings = await run_in_threadpool(
        call.runtime.doctor, agent_id, tenant=call.tenant, repair=repair
    )
    return DoctorOut(findings=[FindingOut.of(f) for f in findings])


async def doctor_all(call: Call) -> DoctorOut:
    repair = call.body(DoctorRequest).repair
    findings = await run_in_threadpool(call.runtime.doctor, tenant=call.tenant, repair=repair)
    return DoctorOut(findings=[FindingOut.of(f) for f in findings])


DOCTOR = (
    "Missing vectors (rows marked indexed without them), stale ones (of existing rows, which "
    "their current text does not give) and orphans (whose row is gone), per agent and kind. "
    "With repair, stale and orphan vectors are deleted and rows with missing ones indexed again."
)

operations = [
    Operation(
        "POST",
        "/v1/agents/{agent_id}/doctor",
        doctor_agent,
        "Compare an agent's rows with the vector index (and repair)",
        DOCTOR,
        path_params=AgentPath,
        body=DoctorRequest,
        response=DoctorOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/doctor",
        doctor_all,
        "Compare every agent of the caller's tenant with the vector index (and repair)",
        DOCTOR,
        body=DoctorRequest,
        response=DoctorOut,
    ),
    Operation(
        "GET",
        "/v1/agents/{agent_id}/index",
        index_status,
        "How the agent's rows stand in the vector index",
        "pending_rows wait for their vectors (found by keywords meanwhile); parked_rows failed "
        "on their own five times and wait for a retry; last_error is the agent's latest failure.",
        path_params=AgentPath,
        response=IndexOut,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/index/retry",
        retry_index,
        "Index the agent's parked rows again",
        path_params=AgentPath,
        response=RetriedOut,
        errors=(404,),
    ),
]
