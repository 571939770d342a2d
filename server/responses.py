"""What the API answers, as pydantic models built from table rows (which never leave the server
as they are). Responses are serialised with `exclude_unset`: a field with a default is one that
may be left out (a message's `tool_calls`), and the OpenAPI document shows it as not required;
a field without one is always there, `null` or not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from agent_runtime.memory.window import Breakdown
from agent_runtime.retrieval.doctor import Finding
from agent_runtime.storage.tables import Agent, Block, Job, Message, Passage
from agent_runtime.turns.loop import TurnResult
from memory_tools import Hit


def _utc(moment: datetime) -> datetime:
    # SQLite gives times back without a zone; every time we store is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


Timestamp = Annotated[datetime, AfterValidator(_utc)]


def timestamp(moment: datetime) -> str:
    """A stored time as the API writes it: ISO 8601, UTC, with a Z."""
    return _utc(moment).isoformat().replace("+00:00", "Z")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Out):
    code: str
    message: str
    field: str | None = None  # the input at fault, as `messages[3].content`


class ErrorBody(Out):
    error: ErrorDetail


class FallbackOut(Out):
    model: str
    base_url: str | None


class AgentOut(Out):
    id: str
    name: str
    model: str
    model_base_url: str | None
    context_window: int
    embedding: str
    system: str
    max_steps: int
    message_count: int
    passage_count: int
    expired_passage_count: int  # passages purged when their lifetime ended
    memory_ttl: dict[str, float | None]
    memory: str  # auto or tools
    memory_model: str | None
    memory_error: str | None  # why the last parked extraction batch failed
    fallback_models: list[FallbackOut]
    retry_seconds: float | None  # null: the server's RECALLD_PROVIDER_RETRY_SECONDS
    tools: list[str]  # the names of the custom tools attached to it
    last_stop_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, agent: Agent, tools: list[str] | None = None) -> AgentOut:
        return cls(
            id=agent.id,
            name=agent.name,
            model=agent.model,
            model_base_url=agent.model_base_url,
            context_window=agent.context_window,
            embedding=agent.embedding,
            system=agent.instructions,
            max_steps=agent.max_steps,
            message_count=agent.message_count,
            passage_count=agent.passage_count,
            expired_passage_count=agent.expired_passage_count,
            memory_ttl=dict(agent.memory_ttl),
            memory=agent.memory,
            memory_model=agent.memory_model,
            memory_error=agent.memory_error,
            fallback_models=[
                FallbackOut(model=str(f["model"]), base_url=f.get("base_url"))
                for f in agent.fallback_models
            ],
            retry_seconds=agent.retry_seconds,
            tools=tools or [],
            last_stop_reason=agent.last_stop_reason,
            created_at=agent.created_at,
            updated_at=agent.updated_at,
        )


class AgentPage(Out):
    data: list[AgentOut]
    next: str | None  # the cursor of the next page


class BlockOut(Out):
    id: str
    label: str
    value: str
    limit: int
    size: int
    description: str
    read_only: bool
    updated_at: Timestamp

    @classmethod
    def of(cls, block: Block) -> BlockOut:
        return cls(
            id=block.id,
            label=block.label,
            value=block.value,
            limit=block.limit,
            size=len(block.value),
            description=block.description,
            read_only=block.read_only,
            updated_at=block.updated_at,
        )


class SharedBlockOut(BlockOut):
    agent_ids: list[str]  # the agents it is attached to

    @classmethod
    def with_agents(cls, block: Block, agent_ids: list[str]) -> SharedBlockOut:
        return cls(**BlockOut.of(block).model_dump(), agent_ids=agent_ids)


class BlocksOut(Out):
    data: list[BlockOut]


class ToolCallOut(Out):
    id: str
    name: str
    arguments: str  # JSON text as the model wrote it


class AttemptOut(Out):
    """One call to a provider in a step: outcome "ok" or the error's code."""

    model: str
    outcome: str
    seconds: float
    error: str | None = None
    wait: float = 0.0  # slept before the next attempt


class MessageOut(Out):
    id: int
    role: str
    content: str
    created_at: Timestamp
    turn_id: str
    step: int
    in_context: bool
    tool_calls: list[ToolCallOut] = []  # assistant messages that call tools
    tool_call_id: str | None = None  # tool results
    name: str | None = None  # tool results: the tool's name
    # Assistant messages: the provider calls of their step, retries and fallbacks included; a
    # failed input: those of the step that no model answered.
    attempts: list[AttemptOut] = []
    failed: bool = False  # an input whose turn no model answered

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        extra: dict[str, Any] = {}
        if message.attempts:
            extra["attempts"] = [AttemptOut(**a) for a in message.attempts]
        if message.failed:
            extra["failed"] = True
        if message.tool_calls:
            extra["tool_calls"] = [
                ToolCallOut(
                    id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"]
                )
                for c in message.tool_calls
            ]
        if message.role == "tool":
            extra |= {"tool_call_id": message.tool_call_id, "name": message.name}
        assert message.id is not None
        return cls(
            id=message.id,
            role=message.role,
            content=message.content,
            created_at=message.created_at,
            turn_id=message.turn_id,
            step=message.step,
            in_context=message.in_context,
            **extra,
        )


class ToolCallEvent(ToolCallOut):
    message_id: int  # the assistant message that made the call


class AssistantDelta(Out):
    """A piece of the reply of step `step` as the model streams it (`"tokens": true`)."""

    step: int
    text: str


class ToolCallDelta(Out):
    """A piece of tool call `index` of step `step`: its id and name come with the first piece,
    its arguments (JSON text) in pieces."""

    step: int
    index: int
    id: str
    name: str
    arguments: str


class DeltaReset(Out):
    """The pieces streamed for step `step` are void: a retry answers from the start."""

    step: int


class MessagesOut(Out):
    data: list[MessageOut]


class Usage(Out):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TurnDone(Out):
    """How a turn ended: the `done` event of a streamed turn."""

    turn_id: str
    stop_reason: str  # end_turn, max_steps, error, cancelled; interrupted on a replay
    steps: int
    usage: Usage
    # True when an Idempotency-Key matched an earlier send: this is that turn, not a new one.
    replayed: bool = False

    @classmethod
    def of(cls, result: TurnResult) -> TurnDone:
        usage = result.usage
        return cls(
            turn_id=result.turn_id,
            stop_reason=result.stop_reason,
            steps=result.steps,
            replayed=result.replayed,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
            ),
        )


class TurnOut(TurnDone):
    """A whole turn: the new messages, and how it ended."""

    messages: list[MessageOut]

    @classmethod
    def of(cls, result: TurnResult) -> TurnOut:
        messages = [MessageOut.of(m) for m in result.messages]
        return cls(**TurnDone.of(result).model_dump(), messages=messages)


class PassageOut(Out):
    id: int
    text: str
    tags: list[str]
    origin: str
    created_at: Timestamp
    expires_at: Timestamp | None = None

    @classmethod
    def of(cls, passage: Passage) -> PassageOut:
        assert passage.id is not None
        return cls(
            id=passage.id,
            text=passage.text,
            tags=list(passage.tags),
            origin=passage.origin,
            created_at=passage.created_at,
            **({"expires_at": passage.expires_at} if passage.expires_at else {}),
        )


class HitOut(Out):
    id: int
    text: str
    created_at: Timestamp
    tags: list[str] = []  # passages with tags
    role: str | None = None  # messages

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        extra: dict[str, Any] = {}
        if hit.tags:
            extra["tags"] = list(hit.tags)
        if hit.role:
            extra["role"] = hit.role
        return cls(id=hit.id, text=hit.text, created_at=hit.created_at, **extra)


class SearchOut(Out):
    data: list[HitOut]
    total: int  # matches in all


class ArchivalOut(Out):
    """A listing (passages and `next`) or, with `query`, a search (hits and `total`)."""

    data: list[PassageOut] | list[HitOut]
    next: int | None = None
    total: int | None = None


class ImportedOut(Out):
    imported: int


class ContextOut(Out):
    """What fills the context window, in tokens, with the prompt the model sees first."""

    system: int
    blocks: int
    summary: int
    messages: int
    tools: int
    total: int
    window: int
    in_context_messages: int
    system_prompt: str
    summary_text: str
    facts: int  # the remembered facts the newest user message brings in (memory: auto)
    facts_text: str

    @classmethod
    def of(cls, breakdown: Breakdown) -> ContextOut:
        return cls.model_validate(breakdown, from_attributes=True)


class JobTokens(Out):
    prompt: int
    completion: int
    total: int


class JobOut(Out):
    id: str
    agent_id: str
    goal: str
    status: str
    stop_reason: str | None
    steps: int
    max_steps: int
    max_duration: float | None
    tokens: JobTokens
    progress_note: str | None
    result: str | None
    error: str | None
    schedule: str | None
    schedule_root: str | None
    attempts: int
    run_after: Timestamp
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            agent_id=job.agent_id,
            goal=job.goal,
            status=job.status,
            stop_reason=job.stop_reason,
            steps=job.steps,
            max_steps=job.max_steps,
            max_duration=job.max_duration_seconds,
            tokens=JobTokens(
                prompt=job.prompt_tokens,
                completion=job.completion_tokens,
                total=job.prompt_tokens + job.completion_tokens,
            ),
            progress_note=job.progress_note,
            result=job.result,
            error=job.error,
            schedule=job.schedule,
            schedule_root=job.schedule_root,
            attempts=job.attempts,
            run_after=job.run_after,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class JobPage(Out):
    data: list[JobOut]
    next: str | None


class HealthOut(BaseModel):
    """Open to more fields: what a deployment reports may grow."""

    model_config = ConfigDict(extra="allow")

    status: str  # ok, or degraded while indexing fails for everyone
    # Only for a tenant's key or the operator: what it runs on, the indexer's figures.
    database: str | None = None
    default_model: str | None = None
    auth: str | None = None  # api_keys or loopback_only
    indexer: dict[str, Any] | None = None
    memory: dict[str, Any] | None = None  # facts, and what expired and was purged
    extraction: dict[str, Any] | None = None  # fact extraction: queued, running, parked, error


class IndexFailure(Out):
    agent_id: str
    error: str
    at: str


class IndexOut(Out):
    """An agent's rows on their way into the vector index."""

    pending_rows: int  # waiting for their vectors
    parked_rows: int  # failed on their own too often; POST .../index/retry tries them again
    failing_agents: int
    last_error: IndexFailure | None


class RetriedOut(Out):
    retried: int  # parked rows given their attempts back


class FindingOut(Out):
    """One agent's collection of one kind (passage or message) against its rows."""

    agent_id: str
    kind: str
    rows: int
    vectors: int
    missing: list[int]  # rows marked indexed whose vectors are absent
    stale: list[str]  # vectors of existing rows that their current text does not give
    orphans: list[str]  # vectors whose row is gone
    healthy: bool
    repaired: bool

    @classmethod
    def of(cls, finding: Finding) -> FindingOut:
        return cls.model_validate(finding, from_attributes=True)


class DoctorOut(Out):
    findings: list[FindingOut]
