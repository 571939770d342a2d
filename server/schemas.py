"""What clients send: request bodies, query strings, path parameters and headers, as pydantic
models. The limits of `agent_runtime/core/limits.py` are constraints here, so they show in the
OpenAPI document; the rules that need the database (a name in use, a block over its own limit)
stay in the runtime.

Bodies are strict (`"5"` is not a number) and refuse unknown fields; query strings and paths are
text, whose numbers must be ASCII digits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import (
    MAX_AGENT_NAME_CHARS,
    MAX_BASE_URL_CHARS,
    MAX_BLOCK_DESCRIPTION_CHARS,
    MAX_BLOCK_LIMIT,
    MAX_BLOCKS_PER_AGENT,
    MAX_CONTEXT_WINDOW,
    MAX_FALLBACK_MODELS,
    MAX_GOAL_CHARS,
    MAX_ID_CHARS,
    MAX_ID_VALUE,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_IMPORT,
    MAX_INPUT_CHARS,
    MAX_JOB_STEPS,
    MAX_LABEL_CHARS,
    MAX_MODEL_CHARS,
    MAX_OFFSET,
    MAX_PAGE,
    MAX_PASSAGE_CHARS,
    MAX_QUERY_CHARS,
    MAX_RETRY_SECONDS,
    MAX_SCHEDULE_CHARS,
    MAX_STEPS_LIMIT,
    MAX_SYSTEM_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TTL_DAYS,
    MIN_CONTEXT_WINDOW,
)
from agent_runtime.core.specs import (
    DEFAULT_BLOCK_LIMIT,
    AgentPatch,
    AgentSpec,
    BlockPatch,
    BlockSpec,
    Fallback,
    MessageInput,
)
from agent_runtime.jobs.queue import interval_seconds
from agent_runtime.memory import agents as agents_
from agent_runtime.memory import blocks as blocks_
from memory_tools import ToolError
from memory_tools.results import parse_day

AGENT_NAME = agents_.NAME  # the runtime's rule, shown in the schema
# The times we read: a date, or a date and time to the minute at least, with an optional zone.
TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
# Blank text is refused by the runtime ("message content is empty"); the pattern shows it.
NOT_BLANK = {"pattern": r"\S"}


# -- values ----------------------------------------------------------------------------------


def _digits(value: object) -> object:
    """A number in a path or query string: ASCII digits only (int() also reads '٣' as 3)."""
    if not isinstance(value, str):
        return value
    if not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written with the digits 0-9")
    if len(value) > len(str(MAX_ID_VALUE)):
        raise ValueError(f"must be at most {MAX_ID_VALUE}")
    return int(value)


def _time(value: object, *, end: bool) -> object:
    if not isinstance(value, str) or not TIME.fullmatch(value):
        raise ValueError("must be an ISO date like 2024-05-01 or a date and time")
    try:
        return parse_day(value, "time", end=end)
    except ToolError as exc:
        raise ValueError(str(exc).removeprefix("time ")) from exc


def _start(value: object) -> object:
    return _time(value, end=False)


def _end(value: object) -> object:
    return _time(value, end=True)


TIME_SCHEMA = {
    "type": "string",
    "pattern": f"^{TIME.pattern}$",
    "description": "An ISO date (2024-05-01) or date and time (2024-05-01T09:30:00+02:00); "
    "no zone means UTC.",
}
END_SCHEMA = {**TIME_SCHEMA, "description": "As start; a bare date covers that whole day."}


def _agent_name(value: str) -> str:
    if not AGENT_NAME.fullmatch(value):
        raise ValueError("must be 1-100 letters, digits, inner spaces, '.', '-' or '_'")
    return value


def _label(value: str) -> str:
    if not blocks_.LABEL.fullmatch(value):
        raise ValueError("must be lower-case letters, digits and _, starting with a letter")
    return value


def _duration(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    ascii_text = isinstance(value, str) and value.isascii()
    seconds = interval_seconds(value) if ascii_text else None  # type: ignore[arg-type]
    if seconds is None:
        raise ValueError("must be seconds or an interval like 90s, 30m, 2h")
    return float(seconds)


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
# Bounds before the validator, so that the schema shows them as minimum and maximum.
Cursor = Annotated[int, Field(ge=0, le=MAX_ID_VALUE), BeforeValidator(_digits)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(_digits)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET), BeforeValidator(_digits)]
Start = Annotated[datetime, BeforeValidator(_start), WithJsonSchema(TIME_SCHEMA)]
End = Annotated[datetime, BeforeValidator(_end), WithJsonSchema(END_SCHEMA)]
AgentName = Annotated[
    str,
    Field(
        max_length=MAX_AGENT_NAME_CHARS, json_schema_extra={"pattern": f"^{AGENT_NAME.pattern}$"}
    ),
    AfterValidator(_agent_name),
]
Label = Annotated[
    str,
    Field(max_length=MAX_LABEL_CHARS, json_schema_extra={"pattern": f"^{blocks_.LABEL.pattern}$"}),
    AfterValidator(_label),
]
ModelName = Annotated[str, Field(min_length=1, max_length=MAX_MODEL_CHARS)]
BaseUrl = Annotated[str, Field(max_length=MAX_BASE_URL_CHARS)]
ContextWindow = Annotated[int, Field(ge=MIN_CONTEXT_WINDOW, le=MAX_CONTEXT_WINDOW)]
Steps = Annotated[int, Field(ge=1, le=MAX_STEPS_LIMIT)]
BlockValue = Annotated[str, Field(max_length=MAX_BLOCK_LIMIT)]
BlockLimit = Annotated[int, Field(ge=1, le=MAX_BLOCK_LIMIT)]
Description = Annotated[str, Field(max_length=MAX_BLOCK_DESCRIPTION_CHARS)]
Content = Annotated[str, Field(max_length=MAX_INPUT_CHARS, json_schema_extra=NOT_BLANK)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_CHARS)]
SearchText = Annotated[
    str, Field(min_length=1, max_length=MAX_QUERY_CHARS, json_schema_extra=NOT_BLANK)
]
Duration = Annotated[
    float,
    BeforeValidator(_duration),
    Field(gt=0, allow_inf_nan=False),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^\s*[0-9]{1,20}\s*[smhd]\s*$"},
            ],
            "description": "Seconds, or an interval like 90s, 30m, 2h or 1d.",
        }
    ),
]
IdempotencyKeyText = Annotated[
    str, Field(min_length=1, max_length=MAX_IDEMPOTENCY_KEY_CHARS, pattern=r"^[\x21-\x7e]+$")
]
# The runtime checks the interval or cron line, and how often it may run.
Schedule = Annotated[str, Field(max_length=MAX_SCHEDULE_CHARS)]
TtlDays = Annotated[float, Field(gt=0, le=MAX_TTL_DAYS)]
MemoryTtl = Annotated[
    dict[Literal["event", "plan", "paged"], TtlDays | None],
    Field(description="days the agent's episodic memory lives, by kind; null: never expires"),
]
MemoryModeName = Annotated[
    Literal["auto", "tools"],
    Field(
        description="auto: facts are extracted from its turns in the background and relevant "
        "ones join its context; tools: it keeps only what its memory tools write"
    ),
]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
SearchRole = Literal["user", "assistant", "system", "tool"]


def _ttl(ttl: dict[Any, float | None] | None) -> dict[str, float | None] | None:
    return None if ttl is None else {str(kind): days for kind, days in ttl.items()}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Params(BaseModel):
    """A query string, path or headers: text, so not strict; unknown query parameters pass."""

    model_config = ConfigDict(extra="ignore")


# -- bodies ----------------------------------------------------------------------------------


class BlockCreate(Body):
    label: Label
    value: BlockValue = ""
    limit: BlockLimit = DEFAULT_BLOCK_LIMIT
    description: Description = ""
    read_only: bool = False

    def spec(self) -> BlockSpec:
        return BlockSpec(self.label, self.value, self.limit, self.description, self.read_only)


class BlockEdit(Body):
    value: BlockValue | None = None
    limit: BlockLimit | None = None
    description: Description | None = None
    read_only: bool | None = None

    def patch(self) -> BlockPatch:
        return BlockPatch(self.value, self.limit, self.description, self.read_only)


class FallbackModel(Body):
    model: ModelName
    base_url: BaseUrl | None = Field(None, description="none: the provider's own endpoint")


# A model name alone, or with the base URL of an OpenAI-compatible server.
Fallbacks = Annotated[
    list[FallbackModel | ModelName],
    Field(
        max_length=MAX_FALLBACK_MODELS,
        description="models tried in order when the agent's own fails after its retries",
    ),
]
RetrySeconds = Annotated[
    float,
    Field(ge=0, le=MAX_RETRY_SECONDS, description="the budget for retrying one step's call"),
]


def _fallbacks(given: list[FallbackModel | str] | None) -> list[Fallback] | None:
    if given is None:
        return None
    return [Fallback(f) if isinstance(f, str) else Fallback(f.model, f.base_url) for f in given]


class AgentCreate(Body):
    name: AgentName
    model: ModelName | None = None
    model_base_url: BaseUrl | None = None
    context_window: ContextWindow | None = None
    embedding: ModelName | None = None
    system: Annotated[str, Field(max_length=MAX_SYSTEM_CHARS)] | None = None
    persona: BlockValue | None = None
    human: BlockValue | None = None
    blocks: list[BlockCreate] | None = Field(None, max_length=MAX_BLOCKS_PER_AGENT)
    block_ids: list[Id] | None = Field(None, max_length=MAX_BLOCKS_PER_AGENT)
    max_steps: Steps | None = None
    memory_ttl: MemoryTtl | None = None
    memory: MemoryModeName | None = None
    memory_model: ModelName | None = None
    fallback_models: Fallbacks | None = None
    retry_seconds: RetrySeconds | None = None

    def spec(self) -> AgentSpec:
        return AgentSpec(
            name=self.name,
            model=self.model,
            model_base_url=self.model_base_url,
            context_window=self.context_window,
            embedding=self.embedding,
            system=self.system,
            persona=self.persona,
            human=self.human,
            blocks=[b.spec() for b in self.blocks or []],
            block_ids=list(self.block_ids or []),
            max_steps=self.max_steps,
            memory_ttl=_ttl(self.memory_ttl),
            memory=self.memory,
            memory_model=self.memory_model,
            fallback_models=_fallbacks(self.fallback_models),
            retry_seconds=self.retry_seconds,
        )


class AgentEdit(Body):
    name: AgentName | None = None
    model: ModelName | None = None
    model_base_url: BaseUrl | None = None
    context_window: ContextWindow | None = None
    system: Annotated[str, Field(max_length=MAX_SYSTEM_CHARS)] | None = None
    max_steps: Steps | None = None
    memory_ttl: MemoryTtl | None = None
    memory: MemoryModeName | None = None
    memory_model: ModelName | None = None
    fallback_models: Fallbacks | None = None
    retry_seconds: RetrySeconds | None = None

    def patch(self) -> AgentPatch:
        return AgentPatch(
            self.name,
            self.model,
            self.model_base_url,
            self.context_window,
            self.system,
            self.max_steps,
            _ttl(self.memory_ttl),
            self.memory,
            self.memory_model,
            _fallbacks(self.fallback_models),
            self.retry_seconds,
        )


class InputMessage(Body):
    role: Literal["user", "system"] = "user"
    content: Content


class SendMessages(Body):
    # At most Settings.max_messages_per_send (RECALLD_MAX_MESSAGES_PER_SEND), else a 413.
    messages: list[InputMessage] = Field(min_length=1)
    max_steps: Steps | None = None
    user_id: Id | None = Field(
        None, description="the user this turn serves: their facts only, and facts learned carry it"
    )
    tokens: bool = Field(
        False, description="stream only: also stream the model's text and tool calls as they come"
    )


class ImportedMessage(Body):
    role: Literal["user", "assistant", "system"]
    content: Content
    created_at: Start | None = None

    def input(self) -> MessageInput:
        return MessageInput(self.role, self.content, self.created_at)


class DoctorRequest(Body):
    repair: bool = False  # delete stale and orphan vectors, index rows with missing ones again


class ImportHistory(Body):
    messages: list[ImportedMessage] = Field(max_length=MAX_IMPORT)


class PassageCreate(Body):
    text: Annotated[str, Field(max_length=MAX_PASSAGE_CHARS, json_schema_extra=NOT_BLANK)]
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    created_at: Start | None = None
    ttl_days: TtlDays | None = Field(None, description="gone from search this many days on")
    expires_at: Start | None = None

    def expiry(self) -> datetime | None:
        if self.ttl_days is not None and self.expires_at is not None:
            raise InvalidInput("give ttl_days or expires_at, not both", field="ttl_days")
        if self.ttl_days is not None:
            return datetime.now(UTC) + timedelta(days=self.ttl_days)
        return self.expires_at


class JobCreate(Body):
    goal: Annotated[str, Field(max_length=MAX_GOAL_CHARS, json_schema_extra=NOT_BLANK)]
    max_steps: Annotated[int, Field(ge=1, le=MAX_JOB_STEPS)] = 100
    max_duration: Duration | None = None
    schedule: Schedule | None = None


# -- paths -----------------------------------------------------------------------------------


class AgentPath(Params):
    agent_id: Id


class PassagePath(AgentPath):
    passage_id: Cursor


class AgentBlockPath(AgentPath):
    label: Label


class AttachPath(AgentPath):
    block_id: Id


class BlockPath(Params):
    block_id: Id


class JobPath(Params):
    job_id: Id


# -- query strings and headers -----------------------------------------------------------------


class AgentList(Params):
    limit: PageSize = 50
    after: Id | None = Field(None, description="the previous page's next")
    name: AgentName | None = Field(None, description="only agents with this name")


class MessageList(Params):
    limit: PageSize = 50
    before: Cursor | None = Field(None, description="a message id: the page before it")
    after: Cursor | None = Field(None, description="a message id: the page after it")


class ArchivalList(Params):
    query: SearchText | None = Field(None, description="search (keywords and meaning)")
    tags: list[Tag] = Field(
        default_factory=list, max_length=MAX_TAGS, description="passages must carry them all"
    )
    start: Start | None = None
    end: End | None = None
    limit: PageSize | None = Field(None, description="default 10 for a search, 50 for a listing")
    offset: Offset = 0
    after: Cursor | None = Field(None, description="a passage id: list those after it")


class RecallSearch(Params):
    query: SearchText
    roles: list[SearchRole] = Field(default_factory=list, max_length=4)
    start: Start | None = None
    end: End | None = None
    limit: PageSize = 10
    offset: Offset = 0


class BlockList(Params):
    label: Label | None = None


class JobList(Params):
    agent_id: Id | None = None
    status: JobStatus | None = None
    limit: PageSize = 50
    after: Id | None = None


class EventsQuery(Params):
    after: Cursor | None = Field(None, description="an event id, as Last-Event-ID")


class SendHeaders(Params):
    idempotency_key: IdempotencyKeyText | None = Field(
        None,
        alias="Idempotency-Key",
        description="a retry with the same key returns the turn the first send saved "
        "(replayed: true) instead of running another",
    )


class EventsHeaders(Params):
    last_event_id: Cursor | None = Field(None, alias="Last-Event-ID")
