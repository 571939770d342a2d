"""SQLModel table models. Request/response schemas live elsewhere; these are rows only.

Schema changes go through migrations in ``storage/migrations/versions``; never ``create_all``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, false
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApiKey(SQLModel, table=True):
    """A key's hash, never the key; `prefix` (its first characters) tells people which key it
    is. An `admin` key also manages its tenant's keys, a `member` key does not. A revoked key is
    refused but its row stays: it still shows in the list, and it keeps auth on."""

    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    key_hash: str = Field(unique=True)
    prefix: str
    name: str
    role: str  # admin or member
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None  # to the minute or so: not written on every request
    revoked_at: datetime | None = None


class Process(SQLModel, table=True):
    """A running recalld process; its heartbeat says it is alive. Leases held by a process
    whose row is gone or whose heartbeat stopped are taken over at once."""

    __tablename__ = "process"
    id: str = Field(primary_key=True)
    host: str
    pid: int
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)


class Agent(SQLModel, table=True):
    __tablename__ = "agent"
    __table_args__ = (Index("ux_agent_tenant_name", "tenant_id", "name", unique=True),)
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    name: str
    model: str
    model_base_url: str | None = None
    context_window: int
    embedding: str
    instructions: str = Field(sa_column=Column(Text, nullable=False))
    max_steps: int
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # The rendered system prompt is kept so that it changes only when memory changes.
    system_prompt: str = Field(default="", sa_column=Column(Text, nullable=False))
    system_prompt_tokens: int = 0
    memory_edited_at: datetime | None = None
    message_count: int = 0
    passage_count: int = 0
    expired_passage_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    lease_owner: str | None = None  # the fencing token of the turn holding the agent
    lease_until: datetime | None = None
    lease_process: str | None = None  # the `Process` running that turn
    last_stop_reason: str | None = None
    # auto: its turns are queued for fact extraction and relevant facts join its context;
    # tools: it remembers only what it writes with its tools (core.vocabulary.MemoryMode).
    memory: str = Field(default="auto", sa_column_kwargs={"server_default": "tools"})
    memory_model: str | None = None  # extraction's model; None: the agent's own
    memory_error: str | None = Field(default=None, sa_column=Column(Text))  # last parked batch
    # Set by the first fact written in its scope: until then a turn looks for none (no query).
    has_facts: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Lifetimes (days) of this agent's episodic memory by kind ("event", "plan", "paged"), over
    # the server's; a kind given as null never expires.
    memory_ttl: dict[str, float | None] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # Tried in order when the model fails for good: [{"model": ..., "base_url": ... | None}].
    fallback_models: list[dict[str, str | None]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    retry_seconds: float | None = None  # its budget for retrying a step; None: the server's
    # The claim of the process embedding its pending rows (retrieval/claims.py), so that two
    # replicas never embed the same rows: a token, until when, and the claimant `Process`.
    index_owner: str | None = None
    index_until: datetime | None = None
    index_process: str | None = None


class Block(SQLModel, table=True):
    __tablename__ = "block"
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    label: str
    value: str = Field(default="", sa_column=Column(Text, nullable=False))
    limit: int
    description: str = ""
    read_only: bool = False
    # Set for blocks made with an agent: they go with it unless another agent shares them.
    owner_agent_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AgentBlock(SQLModel, table=True):
    """Links blocks to agents; a block linked to several agents is shared between them."""

    __tablename__ = "agent_block"
    agent_id: str = Field(primary_key=True, foreign_key="agent.id", ondelete="CASCADE")
    block_id: str = Field(primary_key=True, foreign_key="block.id", ondelete="CASCADE")
    position: int = 0


class Message(SQLModel, table=True):
    """Every message ever exchanged, in order. ``in_context`` marks the buffer the model sees."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_agent_context", "agent_id", "in_context", "id"),
        Index("ix_message_agent_created", "agent_id", "created_at"),
        Index("ix_message_pending", "indexed", "agent_id"),
        {"sqlite_autoincrement": True},  # ids are never reused (migration 0008)
    )
    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agent.id", ondelete="CASCADE")
    turn_id: str
    step: int = 0
    role: str
    content: str = Field(default="", sa_column=Column(Text, nullable=False))
    # The spoken message before this one, searched at a lower keyword weight (messages.chain).
    # "prior", not "context" (the context window's word); the column keeps its first name.
    prior: str = Field(
        default="", sa_column=Column("context", Text, nullable=False, server_default="")
    )
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    tool_call_id: str | None = None
    name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    in_context: bool = True
    tokens: int = 0
    indexed: bool = False
    # Failed indexing attempts; at indexer.MAX_ATTEMPTS the row is parked until retried.
    index_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    index_error: str | None = Field(default=None, sa_column=Column(Text))
    # Assistant messages: the provider calls of their step (llm.Attempt.to_json), in order.
    attempts: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    # Inputs of a turn that no model answered; kept, and held once if sent again.
    failed: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Passage(SQLModel, table=True):
    """Archival memory. ``created_at`` is the time of the event the passage records."""

    __tablename__ = "passage"
    __table_args__ = (
        Index("ix_passage_agent_created", "agent_id", "created_at"),
        Index("ix_passage_pending", "indexed", "agent_id"),
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agent.id", ondelete="CASCADE")
    text: str = Field(sa_column=Column(Text, nullable=False))
    # For a paged-out turn, the turn before it: found by keywords (at a lower weight), not shown.
    prior: str = Field(
        default="", sa_column=Column("context", Text, nullable=False, server_default="")
    )
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    origin: str = "agent"  # core.vocabulary.Origin: agent, user or paged
    source_message_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None  # gone from search at once, purged by the sweep
    indexed: bool = False
    index_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    index_error: str | None = Field(default=None, sa_column=Column(Text))


class Summary(SQLModel, table=True):
    """The recursive summary; the newest row for an agent is the one in context."""

    __tablename__ = "summary"
    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agent.id", ondelete="CASCADE", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    evicted_through: int  # id of the last message this summary covers
    evicted_count: int = 0
    truncated: bool = False  # the summariser failed; the text is a truncation notice
    tokens: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Job(SQLModel, table=True):
    """A goal an agent works on by itself. Each run of a scheduled job is its own row."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_claim", "status", "run_after"),
        Index("ix_job_agent", "agent_id", "status"),
        Index("ix_job_schedule_root", "schedule_root"),
    )
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    agent_id: str = Field(foreign_key="agent.id", ondelete="CASCADE")
    goal: str = Field(sa_column=Column(Text, nullable=False))
    status: str = "queued"  # queued, running, succeeded, failed, cancelled
    stop_reason: str | None = None  # completed, max_steps, max_duration, cancelled, error
    max_steps: int
    max_duration_seconds: float | None = None
    schedule: str | None = None  # "30m", "1h", "1d" or a five-field cron expression
    schedule_root: str | None = None  # the first run of a schedule
    run_after: datetime = Field(default_factory=utcnow)
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    progress_note: str | None = Field(default=None, sa_column=Column(Text))
    result: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    cancel_requested: bool = False
    lease_owner: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class JobEvent(SQLModel, table=True):
    """What a job did, in order; the id is the Server-Sent Events id clients resume from."""

    __tablename__ = "job_event"
    __table_args__ = (Index("ix_job_event_job", "job_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="job.id", ondelete="CASCADE")
    kind: str  # core.vocabulary.JobEventKind
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class IdempotencyKey(SQLModel, table=True):
    """A send made with an `Idempotency-Key`: its retry returns this turn instead of a new one.
    Written with the turn's input messages; the outcome fields once the turn ends."""

    __tablename__ = "idempotency_key"
    __table_args__ = (Index("ux_idempotency_agent_key", "agent_id", "key", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agent.id", ondelete="CASCADE")
    key: str
    turn_id: str
    stop_reason: str | None = None  # None while the turn runs (or if its process died)
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Fact(SQLModel, table=True):
    """A statement recalld believes, bitemporal: world time (`valid_at` to `invalid_at`: when
    it was true) and record time (`created_at` to `expired_at`: when recalld held it as the
    current word on its slot). Facts are retired, never deleted, except by a purge.

    A slot is (scope, subject, attribute): a single-valued slot holds one value at a time."""

    __tablename__ = "fact"
    __table_args__ = (
        Index("ix_fact_slot", "tenant_id", "subject_key", "attribute"),
        Index("ix_fact_tenant_id", "tenant_id", "id"),
        Index("ix_fact_pending", "indexed", "tenant_id"),
        Index("ix_fact_expires", "expires_at"),
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    text: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = ""
    subject_key: str = ""  # normalised: the slot's key
    attribute: str = ""  # "" for a free statement, which no other fact retires
    value: str = Field(default="", sa_column=Column(Text, nullable=False))
    value_key: str = ""  # normalised value: the same value said again merges
    kind: str = "fact"  # core.vocabulary.FactKind
    cardinality: str = "many"  # core.vocabulary.Cardinality
    valid_at: datetime = Field(default_factory=utcnow)
    invalid_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    expired_at: datetime | None = None
    # Why it left the present: superseded, negated or deleted (core.vocabulary.Retired).
    retired: str | None = None
    superseded_by: int | None = None
    expires_at: datetime | None = None
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    evidence_count: int = 0
    meta: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    # Its embedding (float32), kept to find near duplicates in a slot without the index.
    vector: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    indexed: bool = False
    index_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    index_error: str | None = Field(default=None, sa_column=Column(Text))


class FactEvent(SQLModel, table=True):
    """Every change to a fact, in order: its history. A purge blanks the values it held."""

    __tablename__ = "fact_event"
    __table_args__ = (Index("ix_fact_event_fact", "fact_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    fact_id: int = Field(foreign_key="fact.id", ondelete="CASCADE")
    event: str  # core.vocabulary.FactEventKind
    old_value: str | None = Field(default=None, sa_column=Column(Text))
    new_value: str | None = Field(default=None, sa_column=Column(Text))
    actor: str = "api"
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Extraction(SQLModel, table=True):
    """Messages waiting to become facts: one row per turn of an `auto` agent (written in the
    turn's last step), or per `POST /v1/memories` with messages. Claimed with a lease, as jobs
    are, by the extraction pipeline of any process; the facts it yields and its `done` are one
    transaction, so a batch is never written twice."""

    __tablename__ = "extraction"
    __table_args__ = (
        Index("ix_extraction_claim", "status", "run_after"),
        Index("ix_extraction_agent", "agent_id", "status"),
    )
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    agent_id: str | None = Field(default=None, foreign_key="agent.id", ondelete="CASCADE")
    user_id: str | None = None
    run_id: str | None = None
    # [{role, content, created_at, message_id}]; emptied once done (facts keep the evidence)
    messages: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    model: str | None = None  # None: the agent's memory_model or model, else the server's
    status: str = "queued"  # core.vocabulary.ExtractionStatus
    attempts: int = 0
    run_after: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = None
    lease_until: datetime | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    model_calls: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class BlockVersion(SQLModel, table=True):
    """A core memory block as each change left it, numbered from 1, with who made the change.
    Written in the change's own transaction; never rewritten (an undo is a new version)."""

    __tablename__ = "block_version"
    __table_args__ = (Index("ux_block_version", "block_id", "version", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    block_id: str = Field(foreign_key="block.id", ondelete="CASCADE")
    version: int
    value: str = Field(default="", sa_column=Column(Text, nullable=False))
    limit: int
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    read_only: bool = False
    # agent (its own tool), api, import, migration; with the agent and turn for an agent's edit
    actor: str = "api"
    agent_id: str | None = None
    turn_id: str | None = None
    restored_from: int | None = None  # the version a restore brought back
    created_at: datetime = Field(default_factory=utcnow)


class PassageEvent(SQLModel, table=True):
    """Archival memory's audit trail: each passage inserted or deleted, and by whom."""

    __tablename__ = "passage_event"
    __table_args__ = (Index("ix_passage_event_agent", "agent_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agent.id", ondelete="CASCADE")
    passage_id: int
    event: str  # inserted, deleted, expired
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    actor: str = "api"
    turn_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class CustomTool(SQLModel, table=True):
    """A tenant's HTTP tool. `headers` keep ``${secret:NAME}`` references, never the values."""

    __tablename__ = "custom_tool"
    __table_args__ = (Index("ux_custom_tool_tenant_name", "tenant_id", "name", unique=True),)
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    name: str
    description: str = Field(sa_column=Column(Text, nullable=False))
    parameters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    url: str
    method: str
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # A tool an MCP server offers: the server and the tool's own name there (the row's is
    # prefixed with the server's). Its url is the server's; the server's refresh and delete
    # keep it (no foreign key: SQLite cannot add one to an existing table).
    mcp_server_id: str | None = Field(default=None, index=True)
    remote_name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class McpServer(SQLModel, table=True):
    """A tenant's MCP server. `headers` keep ``${secret:NAME}`` references, never the values."""

    __tablename__ = "mcp_server"
    __table_args__ = (Index("ux_mcp_server_tenant_name", "tenant_id", "name", unique=True),)
    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    name: str
    transport: str  # http (streamable HTTP), sse, stdio
    url: str | None = None
    command: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    skipped: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    refreshed_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)


class AgentTool(SQLModel, table=True):
    """The custom tools attached to an agent; its model sees their schemas in every step."""

    __tablename__ = "agent_tool"
    agent_id: str = Field(primary_key=True, foreign_key="agent.id", ondelete="CASCADE")
    tool_id: str = Field(primary_key=True, foreign_key="custom_tool.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
