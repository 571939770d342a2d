"""What a tool may do to an agent's memory: the narrow interface the runtime implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the model as the result."""


@dataclass(frozen=True)
class BlockView:
    label: str
    value: str
    limit: int
    read_only: bool


@dataclass(frozen=True)
class Hit:
    id: int
    text: str
    created_at: datetime
    score: float
    tags: list[str] = field(default_factory=list)
    role: str | None = None


@dataclass(frozen=True)
class FactView:
    text: str
    valid_at: datetime
    invalid_at: datetime | None
    status: str  # current, superseded, negated, past


class Memory(Protocol):
    def block(self, label: str) -> BlockView:
        """The block with `label`; raises ToolError naming the labels that exist."""
        ...

    def write_block(self, label: str, value: str) -> None: ...

    def insert_passage(self, text: str, tags: list[str]) -> int: ...

    def search_passages(
        self,
        query: str,
        tags: list[str],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Hit], int]:
        """Hits for the page and whether more exist (count of all matches, capped)."""
        ...

    def search_messages(
        self,
        query: str,
        roles: list[str],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Hit], int]: ...

    def search_facts(
        self, query: str, as_of: datetime | None, include_history: bool, limit: int
    ) -> list[FactView]:
        """Facts of this agent (and its user) that match, true now or at `as_of`."""
        ...
