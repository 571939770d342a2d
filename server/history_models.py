"""The request and response models of memory history: block versions, restores, archival's
audit trail and an agent's memory as of a time."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from agent_runtime.core.limits import MAX_ID_VALUE, MAX_PAGE
from agent_runtime.history import MemoryAsOf
from agent_runtime.storage.tables import Block, BlockVersion, PassageEvent, utcnow
from server.memory_models import FactOut
from server.responses import BlockOut, Out, Timestamp
from server.schemas import Body, Cursor, Params, Start

Version = Annotated[int, Field(ge=1, le=MAX_ID_VALUE)]


class HistoryQuery(Params):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 50
    before: Cursor | None = Field(None, description="a version: the page of versions before it")


class PassageHistoryQuery(Params):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 50
    after: Cursor | None = Field(None, description="an event id: the events after it")


class AsOfQuery(Params):
    as_of: Start


class RestoreBody(Body):
    version: Version


class VersionOut(Out):
    version: int
    value: str
    old_value: str | None  # the version before's value (None for the first)
    limit: int
    description: str
    read_only: bool
    actor: str  # agent (its own tool), api, import, migration
    agent_id: str | None
    turn_id: str | None
    restored_from: int | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: BlockVersion, old_value: str | None) -> VersionOut:
        return cls(
            version=row.version,
            value=row.value,
            old_value=old_value,
            limit=row.limit,
            description=row.description,
            read_only=row.read_only,
            actor=row.actor,
            agent_id=row.agent_id,
            turn_id=row.turn_id,
            restored_from=row.restored_from,
            created_at=row.created_at,
        )


class BlockHistoryOut(Out):
    block_id: str
    label: str
    data: list[VersionOut]  # newest first
    next: int | None  # `before` for the page after this one

    @classmethod
    def of(cls, block: Block, rows: list[BlockVersion], limit: int) -> BlockHistoryOut:
        """`rows` holds one more than the page when there is more: it gives the last one's
        old value."""
        page = rows[:limit]
        olds = [r.value for r in rows[1:]] + [None] * (len(page) - len(rows[1:]))
        return cls(
            block_id=block.id,
            label=block.label,
            data=[
                VersionOut.of(r, old if r.version > 1 else None)
                for r, old in zip(page, olds, strict=False)
            ],
            next=page[-1].version if len(rows) > limit else None,
        )


class RestoredOut(Out):
    block: BlockOut
    version: VersionOut


class PassageEventOut(Out):
    id: int
    passage_id: int
    event: str  # inserted, deleted, expired
    text: str  # what a delete removed
    actor: str
    turn_id: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: PassageEvent) -> PassageEventOut:
        assert row.id is not None
        return cls(
            id=row.id,
            passage_id=row.passage_id,
            event=row.event,
            text=row.text,
            actor=row.actor,
            turn_id=row.turn_id,
            created_at=row.created_at,
        )


class PassageHistoryOut(Out):
    data: list[PassageEventOut]
    next: int | None


class BlockThen(Out):
    block_id: str
    label: str
    version: int
    value: str
    limit: int
    description: str
    changed_at: Timestamp
    actor: str


class MemoryAsOfOut(Out):
    as_of: Timestamp
    blocks: list[BlockThen]
    facts: list[FactOut]

    @classmethod
    def of(cls, memory: MemoryAsOf) -> MemoryAsOfOut:
        now = utcnow()
        return cls(
            as_of=memory.at,
            blocks=[
                BlockThen(
                    block_id=b.block_id,
                    label=b.label,
                    version=b.version.version,
                    value=b.version.value,
                    limit=b.version.limit,
                    description=b.version.description,
                    changed_at=b.version.created_at,
                    actor=b.version.actor,
                )
                for b in memory.blocks
            ],
            facts=[FactOut.of(f, now) for f in memory.facts],
        )
