"""/v1/agents/{id}/index: how an agent's rows stand in the vector index; retry parked rows."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from server.api import Call, Operation
from server.responses import IndexOut, RetriedOut
from server.schemas import AgentPath


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


operations = [
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
