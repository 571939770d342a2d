"""The request and response models of /v1/memories (fact memory), as schemas.py and
responses.py are for the rest of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from agent_runtime.core import limits
from agent_runtime.core.specs import FactInput, Scope
from agent_runtime.facts.search import FactHit
from agent_runtime.facts.store import FactPatch, WriteResult, status_of
from agent_runtime.storage.tables import Extraction, Fact, FactEvent
from server.responses import Out, Timestamp
from server.schemas import (
    NOT_BLANK,
    Body,
    Cursor,
    Id,
    ModelName,
    Params,
    SearchText,
    Start,
    TtlDays,
)

Kind = Literal["fact", "preference", "event", "plan", "relationship"]
FactText = Annotated[str, Field(max_length=limits.MAX_FACT_CHARS)]
FieldText = Annotated[str, Field(max_length=limits.MAX_FACT_FIELD_CHARS)]
ValueText = Annotated[str, Field(max_length=limits.MAX_FACT_VALUE_CHARS)]
Evidence = Annotated[str, Field(min_length=1, max_length=limits.MAX_EVIDENCE_CHARS)]
MetaValue = str | int | float | bool | None
Metadata = Annotated[dict[str, MetaValue], Field(max_length=limits.MAX_METADATA_KEYS)]
NewText = Annotated[str, Field(max_length=limits.MAX_FACT_CHARS, json_schema_extra=NOT_BLANK)]
NewValue = Annotated[
    str, Field(max_length=limits.MAX_FACT_VALUE_CHARS, json_schema_extra=NOT_BLANK)
]


class ScopeIn(Body):
    user_id: Id | None = None
    agent_id: Id | None = None
    run_id: Id | None = None

    def scope(self) -> Scope:
        return Scope(self.user_id, self.agent_id, self.run_id)


class FactIn(Body):
    """A statement (`text`), or a slot (`subject`, `attribute`, `value`), or both."""

    text: FactText = ""
    subject: FieldText = ""
    attribute: FieldText = ""
    value: ValueText = ""
    kind: Kind = "fact"
    cardinality: Literal["single", "many"] | None = None
    negates: bool = False
    valid_at: Start | None = None
    evidence: list[Evidence] = Field(default_factory=list, max_length=limits.MAX_EVIDENCE)
    metadata: Metadata = Field(default_factory=dict)
    ttl_days: TtlDays | None = None
    expires_at: Start | None = None

    def input(self, shared: dict[str, MetaValue]) -> FactInput:
        return FactInput(
            text=self.text,
            subject=self.subject,
            attribute=self.attribute,
            value=self.value,
            kind=self.kind,
            cardinality=self.cardinality,
            negates=self.negates,
            valid_at=self.valid_at,
            evidence=list(self.evidence),
            metadata={**shared, **self.metadata},
            ttl_days=self.ttl_days,
            expires_at=self.expires_at,
        )


class MessageIn(Body):
    role: Literal["user", "assistant", "system"] = "user"
    content: Annotated[str, Field(max_length=limits.MAX_INPUT_CHARS, json_schema_extra=NOT_BLANK)]
    created_at: Start | None = None


class MemoryCreate(ScopeIn):
    """Facts to write, or messages to learn facts from (one or the other)."""

    facts: list[FactIn] | None = Field(None, min_length=1, max_length=limits.MAX_FACTS_PER_WRITE)
    messages: list[MessageIn] | None = Field(None, min_length=1, max_length=100)
    metadata: Metadata = Field(default_factory=dict)  # given to every fact, under its own
    infer: bool = Field(
        True, description="messages: extract facts (false: store each message as a fact)"
    )
    wait: bool = Field(False, description="messages: answer with what changed, not a 202")
    model: ModelName | None = Field(None, description="messages: the extraction model")


class MemorySearch(ScopeIn):
    query: SearchText
    filters: dict[str, Any] = Field(default_factory=dict, max_length=limits.MAX_FILTERS)
    as_of: Start | None = None
    include_history: bool = False
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    threshold: Annotated[float, Field(ge=-1, le=1)] | None = None


class MemoryEdit(Body):
    text: (
        Annotated[str, Field(max_length=limits.MAX_FACT_CHARS, json_schema_extra=NOT_BLANK)] | None
    ) = None
    value: (
        Annotated[str, Field(max_length=limits.MAX_FACT_VALUE_CHARS, json_schema_extra=NOT_BLANK)]
        | None
    ) = None
    kind: Kind | None = None
    metadata: Metadata | None = None
    expires_at: Start | None = None  # null: never expires

    def patch(self) -> FactPatch:
        return FactPatch(
            text=self.text,
            value=self.value,
            kind=self.kind,
            metadata=None if self.metadata is None else dict(self.metadata),
            expires_at=self.expires_at,
            clear_expiry="expires_at" in self.model_fields_set and self.expires_at is None,
        )


class MemoryList(Params):
    user_id: Id | None = None
    agent_id: Id | None = None
    run_id: Id | None = None
    kind: Kind | None = None
    subject: FieldText | None = None
    attribute: FieldText | None = None
    as_of: Start | None = None
    include_history: bool = False
    limit: Annotated[int, Field(ge=1, le=limits.MAX_PAGE)] = 50
    after: Cursor | None = Field(None, description="a fact id: list those after it")

    def scope(self) -> Scope:
        return Scope(self.user_id, self.agent_id, self.run_id)

    def filters(self) -> dict[str, Any]:
        named = {"kind": self.kind, "subject": self.subject, "attribute": self.attribute}
        return {k: v for k, v in named.items() if v is not None}


class MemoryPath(Params):
    fact_id: Cursor


class DeleteQuery(Params):
    purge: bool = Field(
        False, description="erase the text, vectors and history values (right to be forgotten)"
    )


# -- responses --------------------------------------------------------------------------------


class FactOut(Out):
    id: int
    text: str
    subject: str
    attribute: str
    value: str
    kind: str
    cardinality: str
    status: str  # current, future, superseded, negated, past, deleted, expired
    user_id: str | None
    agent_id: str | None
    run_id: str | None
    valid_at: Timestamp
    invalid_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    expired_at: Timestamp | None
    expires_at: Timestamp | None
    superseded_by: int | None
    evidence: list[str]
    evidence_count: int
    metadata: dict[str, Any]

    @classmethod
    def of(cls, fact: Fact, now: datetime) -> FactOut:
        assert fact.id is not None
        return cls(
            id=fact.id,
            text=fact.text,
            subject=fact.subject,
            attribute=fact.attribute,
            value=fact.value,
            kind=fact.kind,
            cardinality=fact.cardinality,
            status=status_of(fact, now),
            user_id=fact.user_id,
            agent_id=fact.agent_id,
            run_id=fact.run_id,
            valid_at=fact.valid_at,
            invalid_at=fact.invalid_at,
            created_at=fact.created_at,
            updated_at=fact.updated_at,
            expired_at=fact.expired_at,
            expires_at=fact.expires_at,
            superseded_by=fact.superseded_by,
            evidence=list(fact.evidence),
            evidence_count=fact.evidence_count,
            metadata=dict(fact.meta),
        )


class SupersededOut(Out):
    fact: FactOut
    superseded_by: int


class UnchangedOut(Out):
    index: int  # its place in `facts`
    reason: str


class WriteOut(Out):
    added: list[FactOut]
    merged: list[FactOut]
    superseded: list[SupersededOut]
    negated: list[FactOut]
    unchanged: list[UnchangedOut]

    @classmethod
    def of(cls, result: WriteResult, now: datetime) -> WriteOut:
        return cls(
            added=[FactOut.of(f, now) for f in result.added],
            merged=[FactOut.of(f, now) for f in result.merged],
            superseded=[
                SupersededOut(fact=FactOut.of(f, now), superseded_by=by)
                for f, by in result.superseded
            ],
            negated=[FactOut.of(f, now) for f in result.negated],
            unchanged=[UnchangedOut(index=i, reason=r) for i, r in result.unchanged],
        )


class FactHitOut(FactOut):
    score: float
    similarity: float

    @classmethod
    def hit(cls, hit: FactHit, now: datetime) -> FactHitOut:
        base = FactOut.of(hit.fact, now).model_dump()
        return cls(**base, score=round(hit.score, 6), similarity=round(hit.similarity, 6))


class FactSearchOut(Out):
    data: list[FactHitOut]


class FactPage(Out):
    data: list[FactOut]
    next: int | None


class FactEventOut(Out):
    id: int
    event: str
    old_value: str | None
    new_value: str | None
    actor: str
    data: dict[str, Any]
    created_at: Timestamp

    @classmethod
    def of(cls, event: FactEvent) -> FactEventOut:
        assert event.id is not None
        return cls(
            id=event.id,
            event=event.event,
            old_value=event.old_value,
            new_value=event.new_value,
            actor=event.actor,
            data=dict(event.data),
            created_at=event.created_at,
        )


class IngestionOut(Out):
    """Messages queued for extraction: poll GET /v1/memories/ingestions/{id}."""

    id: str
    status: str  # queued, running, done, parked
    attempts: int
    error: str | None
    result: dict[str, Any]  # once done: fact ids added, merged, superseded, negated
    model_calls: int
    created_at: Timestamp
    finished_at: Timestamp | None

    @classmethod
    def of(cls, row: Extraction) -> IngestionOut:
        return cls(
            id=row.id,
            status=row.status,
            attempts=row.attempts,
            error=row.error,
            result=dict(row.result),
            model_calls=row.model_calls,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


class IngestionPath(Params):
    ingestion_id: Id


class FactHistoryOut(Out):
    fact_id: int
    data: list[FactEventOut]


class ErasedOut(Out):
    text: bool
    vectors: bool
    history_events: int


class DeletedOut(Out):
    id: int
    deleted: bool
    purged: bool
    erased: ErasedOut | None = None
