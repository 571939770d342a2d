"""Agents and memories carried between servers and systems: export an agent as one document
(streamed), import it (or a Letta agent file) as a new agent, import a Mem0 memory export."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import StreamingResponse

from agent_runtime.agent_file import AgentDocument, LettaAgentFile, Mem0Export
from agent_runtime.importer import Imported
from server.api import Call, Operation
from server.responses import AgentOut, Out
from server.schemas import AgentName, AgentPath, Params


class ImportQuery(Params):
    name: AgentName | None = Field(None, description="a name for the new agent (default: its own)")


class ImportedOut(Out):
    agent: AgentOut
    counts: dict[str, int]  # rows brought in, by kind
    skipped: list[str]  # what has no counterpart here, and why

    @classmethod
    def of(cls, done: Imported) -> ImportedOut:
        assert done.agent is not None
        return cls(agent=AgentOut.of(done.agent), counts=done.counts, skipped=done.skipped)


class Mem0ImportedOut(Out):
    memories: int
    facts: Annotated[int, Field(description="facts written or merged into")]


async def export_agent(call: Call) -> StreamingResponse:
    agent_id = call.path(AgentPath).agent_id
    pieces = await run_in_threadpool(call.runtime.export_agent, agent_id, tenant=call.tenant)
    name = f"{agent_id}.json"
    return StreamingResponse(
        iterate_in_threadpool(pieces),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def import_agent(call: Call) -> ImportedOut:
    document = call.body(AgentDocument)
    name = call.query(ImportQuery).name
    done = await run_in_threadpool(call.runtime.importer.agent, call.tenant, document, name=name)
    return ImportedOut.of(done)


async def import_letta(call: Call) -> ImportedOut:
    agent_file = call.body(LettaAgentFile)
    name = call.query(ImportQuery).name
    done = await run_in_threadpool(call.runtime.importer.letta, call.tenant, agent_file, name=name)
    return ImportedOut.of(done)


async def import_mem0(call: Call) -> Mem0ImportedOut:
    export = call.body(Mem0Export)
    counts: dict[str, Any] = await run_in_threadpool(
        call.runtime.importer.mem0, call.tenant, export
    )
    return Mem0ImportedOut(**counts)


operations = [
    Operation(
        "GET",
        "/v1/agents/{agent_id}/export",
        export_agent,
        "Export an agent",
        "One versioned document (format recalld.agent, version 1): configuration, blocks "
        "(shared ones marked), every message, the running summary, archival passages, facts "
        "with their history, job schedules. No ids, no vectors, no secrets. Streamed.",
        path_params=AgentPath,
        response=AgentDocument,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/agents/import",
        import_agent,
        "Import an agent",
        "Recreates an exported agent in the caller's tenant with new ids, in one transaction: "
        "all of it or nothing. A bad document is a 422 naming the first bad path.",
        query=ImportQuery,
        body=AgentDocument,
        response=ImportedOut,
        status=201,
        errors=(409,),
    ),
    Operation(
        "POST",
        "/v1/agents/import/letta",
        import_letta,
        "Import a Letta agent file (.af)",
        "Maps what has a counterpart (system prompt, model, memory blocks, messages and which "
        "are in context; send_message calls become replies) and lists what was skipped "
        "(custom tools, tool rules, a model that cannot be routed here).",
        query=ImportQuery,
        body=LettaAgentFile,
        response=ImportedOut,
        status=201,
        errors=(409,),
    ),
    Operation(
        "POST",
        "/v1/memories/import",
        import_mem0,
        "Import a Mem0 memory export",
        "Each memory becomes a fact as it is (no extraction), in its user_id and run_id scope; "
        "Mem0's agent_id and id go into the metadata. All or nothing.",
        body=Mem0Export,
        response=Mem0ImportedOut,
        status=201,
    ),
]
