"""The files agents and memories travel in: recalld's own agent document (what an export writes
and an import reads), and the reference systems' formats an import understands: Letta's agent
file (.af, letta-ai/agent-file) and a Mem0 memory export.

Each is a pydantic model, so a bad file is refused naming the first bad path
(`messages[3].role`). recalld's document holds no ids (rows are listed in order and refer to
each other by position), no vectors (they are recomputed) and no secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agent_runtime.core import limits

FORMAT: Literal["recalld.agent"] = "recalld.agent"
VERSION: Literal[1] = 1
MAX_ROWS = 1_000_000  # per list of a document; the request body's size bounds it first


def _time(value: object) -> object:
    """A time is an ISO 8601 string (or a datetime): never a bare number, which JSON Schema's
    date-time would not allow either."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date and time") from None


Moment = Annotated[datetime, BeforeValidator(_time)]


class Strict(BaseModel):
    # strict: JSON's types as they are (false is no number, 1 no string), as the schema says
    model_config = ConfigDict(extra="forbid", strict=True)


class FallbackDoc(Strict):
    model: str = Field(min_length=1, max_length=limits.MAX_MODEL_CHARS)
    base_url: str | None = Field(None, max_length=limits.MAX_BASE_URL_CHARS)


class AgentConfig(Strict):
    name: str = Field(min_length=1, max_length=limits.MAX_AGENT_NAME_CHARS)
    model: str = Field(min_length=1, max_length=limits.MAX_MODEL_CHARS)
    model_base_url: str | None = Field(None, max_length=limits.MAX_BASE_URL_CHARS)
    context_window: int = Field(ge=limits.MIN_CONTEXT_WINDOW, le=limits.MAX_CONTEXT_WINDOW)
    embedding: str = Field(min_length=1, max_length=limits.MAX_MODEL_CHARS)
    system: str = Field(max_length=limits.MAX_SYSTEM_CHARS)
    max_steps: int = Field(ge=1, le=limits.MAX_STEPS_LIMIT)
    memory: Literal["auto", "tools"] = "tools"
    memory_model: str | None = Field(None, max_length=limits.MAX_MODEL_CHARS)
    memory_ttl: dict[Literal["event", "plan", "paged"], float | None] = Field(default_factory=dict)
    fallback_models: list[FallbackDoc] = Field(
        default_factory=list, max_length=limits.MAX_FALLBACK_MODELS
    )
    retry_seconds: float | None = Field(None, ge=0, le=limits.MAX_RETRY_SECONDS)
    created_at: Moment


class BlockDoc(Strict):
    label: str = Field(min_length=1, max_length=limits.MAX_LABEL_CHARS)
    value: str = Field(max_length=limits.MAX_BLOCK_LIMIT)
    limit: int = Field(ge=1, le=limits.MAX_BLOCK_LIMIT)
    description: str = Field("", max_length=limits.MAX_BLOCK_DESCRIPTION_CHARS)
    read_only: bool = False
    shared: bool = False  # attached to other agents too; imported as this agent's own


class ToolCallDoc(Strict):
    id: str = Field(max_length=200)
    type: Literal["function"] = "function"
    function: dict[str, str]


class MessageDoc(Strict):
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field("", max_length=limits.MAX_INPUT_CHARS)
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=200)
    turn: str = Field("", max_length=200)  # messages of one turn share it
    step: int = 0
    in_context: bool = False
    created_at: Moment


class SummaryDoc(Strict):
    text: str = Field(max_length=limits.MAX_SYSTEM_CHARS * 10)
    evicted_through: int = Field(ge=-1)  # position in `messages` of the last message it covers
    evicted_count: int = Field(ge=0)
    truncated: bool = False
    created_at: Moment


class PassageDoc(Strict):
    text: str = Field(min_length=1, max_length=limits.MAX_PASSAGE_CHARS)
    prior: str = Field("", max_length=limits.MAX_PASSAGE_CHARS)
    tags: list[str] = Field(default_factory=list, max_length=limits.MAX_TAGS)
    origin: Literal["agent", "user", "paged"] = "user"
    source_message: int | None = None  # position in `messages`
    created_at: Moment
    expires_at: Moment | None = None


class FactEventDoc(Strict):
    event: str = Field(max_length=40)
    old_value: str | None = None
    new_value: str | None = None
    actor: str = Field("import", max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: Moment


class FactDoc(Strict):
    text: str = Field(max_length=limits.MAX_FACT_CHARS)
    subject: str = Field("", max_length=limits.MAX_FACT_FIELD_CHARS)
    attribute: str = Field("", max_length=limits.MAX_FACT_FIELD_CHARS)
    value: str = Field("", max_length=limits.MAX_FACT_VALUE_CHARS)
    kind: Literal["fact", "preference", "event", "plan", "relationship"] = "fact"
    cardinality: Literal["single", "many"] = "many"
    user_id: str | None = Field(None, max_length=limits.MAX_ID_CHARS)
    run_id: str | None = Field(None, max_length=limits.MAX_ID_CHARS)
    valid_at: Moment
    invalid_at: Moment | None = None
    created_at: Moment
    expired_at: Moment | None = None
    retired: Literal["superseded", "negated", "deleted"] | None = None
    superseded_by: int | None = None  # position in `facts`
    expires_at: Moment | None = None
    evidence: list[str] = Field(default_factory=list, max_length=limits.MAX_EVIDENCE)
    evidence_count: int = Field(1, ge=0)
    metadata: dict[str, Any] = Field(default_factory=dict)
    history: list[FactEventDoc] = Field(default_factory=list)


class JobDoc(Strict):
    goal: str = Field(min_length=1, max_length=limits.MAX_GOAL_CHARS)
    schedule: str = Field(min_length=1, max_length=limits.MAX_SCHEDULE_CHARS)
    max_steps: int = Field(ge=1, le=limits.MAX_JOB_STEPS)
    max_duration_seconds: float | None = None


class AgentDocument(Strict):
    """An agent as `GET /v1/agents/{id}/export` writes it and `POST /v1/agents/import` reads
    it: configuration, blocks, every message, the running summary, archival passages, facts
    with their history and job schedules."""

    format: Literal["recalld.agent"]
    version: Literal[1]
    exported_at: Moment | None = None
    agent: AgentConfig
    blocks: list[BlockDoc] = Field(default_factory=list, max_length=limits.MAX_BLOCKS_PER_AGENT)
    messages: list[MessageDoc] = Field(default_factory=list, max_length=MAX_ROWS)
    summary: SummaryDoc | None = None
    passages: list[PassageDoc] = Field(default_factory=list, max_length=MAX_ROWS)
    facts: list[FactDoc] = Field(default_factory=list, max_length=MAX_ROWS)
    jobs: list[JobDoc] = Field(default_factory=list, max_length=100)


# -- Letta's agent file (.af) -------------------------------------------------------------------
# Fields from letta-ai/agent-file's schema (pydantic_agent_schema.py); what recalld has no
# counterpart for (tool source code, tool rules, multi-agent groups) is ignored and reported.


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class LettaBlock(Loose):
    label: str = Field(min_length=1, max_length=limits.MAX_LABEL_CHARS)
    value: str = Field("", max_length=limits.MAX_BLOCK_LIMIT)
    limit: int = Field(2000, ge=1, le=limits.MAX_BLOCK_LIMIT)
    description: str | None = None


class LettaMessage(Loose):
    role: Literal["user", "assistant", "system", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    created_at: Moment | None = None
    in_context: bool | None = None


class LettaLLMConfig(Loose):
    model: str = Field(min_length=1, max_length=limits.MAX_MODEL_CHARS)
    model_endpoint_type: str | None = None
    context_window: int | None = None


class LettaAgentFile(Loose):
    name: str = Field(min_length=1, max_length=limits.MAX_AGENT_NAME_CHARS)
    system: str | None = None
    llm_config: LettaLLMConfig
    core_memory: list[LettaBlock] = Field(default_factory=list)
    messages: list[LettaMessage] = Field(default_factory=list, max_length=MAX_ROWS)
    in_context_message_indices: list[int] | None = None
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_rules: list[dict[str, Any]] | None = None
    created_at: Moment | None = None


# -- Mem0's memory export -----------------------------------------------------------------------


class Mem0Memory(Loose):
    """One memory as Mem0's get_all/export gives it."""

    memory: str = Field(min_length=1, max_length=limits.MAX_FACT_CHARS)
    user_id: str | None = Field(None, max_length=limits.MAX_ID_CHARS)
    agent_id: str | None = Field(None, max_length=limits.MAX_ID_CHARS)
    run_id: str | None = Field(None, max_length=limits.MAX_ID_CHARS)
    metadata: dict[str, Any] | None = None
    created_at: Moment | None = None
    updated_at: Moment | None = None


class Mem0Export(Strict):
    """Mem0's export: `{"results": [...]}` as its API returns it (a bare list is wrapped)."""

    results: list[Mem0Memory] = Field(max_length=limits.MAX_FACTS_PER_WRITE * 100)
