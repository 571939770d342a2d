"""Plain inputs of the Python API (the server parses JSON into these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_BLOCK_LIMIT = 2000


@dataclass(frozen=True)
class BlockSpec:
    label: str
    value: str = ""
    limit: int = DEFAULT_BLOCK_LIMIT
    description: str = ""
    read_only: bool = False


@dataclass(frozen=True)
class Fallback:
    """A model tried when the agent's own fails for good; no base URL: the provider's own."""

    model: str
    base_url: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"model": self.model, "base_url": self.base_url}


@dataclass(frozen=True)
class AgentSpec:
    name: str
    model: str | None = None
    model_base_url: str | None = None
    context_window: int | None = None
    embedding: str | None = None
    system: str | None = None
    persona: str | None = None
    human: str | None = None
    blocks: list[BlockSpec] = field(default_factory=list)
    block_ids: list[str] = field(default_factory=list)
    max_steps: int | None = None
    # Days its episodic memory lives, by kind (event, plan, paged); null: never expires.
    memory_ttl: dict[str, float | None] | None = None
    memory: str | None = None  # auto (the default) or tools: core.vocabulary.MemoryMode
    memory_model: str | None = None  # extraction's model; None: the server's, else its own
    fallback_models: list[Fallback] | None = None
    retry_seconds: float | None = None  # its budget for retrying a step; None: the server's


@dataclass(frozen=True)
class AgentPatch:
    name: str | None = None
    model: str | None = None
    model_base_url: str | None = None
    context_window: int | None = None
    system: str | None = None
    max_steps: int | None = None
    memory_ttl: dict[str, float | None] | None = None
    memory: str | None = None
    memory_model: str | None = None
    fallback_models: list[Fallback] | None = None  # given: replaces the list ([] clears it)
    retry_seconds: float | None = None


@dataclass(frozen=True)
class BlockPatch:
    value: str | None = None
    limit: int | None = None
    description: str | None = None
    read_only: bool | None = None


@dataclass(frozen=True)
class PassageInput:
    text: str
    created_at: datetime | None = None
    tags: Sequence[str] = ()
    prior: str = ""  # the turn before, for a conversation turn filed as paging would
    expires_at: datetime | None = None  # gone from search then; None: kept for ever


@dataclass(frozen=True)
class MessageInput:
    """A message of earlier history, imported into recall memory (not into the context window)."""

    role: str  # user, assistant or system
    content: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class Scope:
    """Whose memory a fact is, within its tenant (as in Mem0): a user's, an agent's, a run's.
    A field left None is no scope: a write leaves it unset and a search does not filter on it."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class FactInput:
    """One fact to write. Either a statement alone (`text`: a free fact, retired by nobody) or a
    slot (`subject`, `attribute`, `value`; the text is made from them when not given)."""

    text: str = ""
    subject: str = ""
    attribute: str = ""
    value: str = ""
    kind: str = "fact"
    cardinality: str | None = None  # None: the attribute's usual one (slots.cardinality_of)
    negates: bool = False  # "no longer": retires the matching value instead of adding one
    valid_at: datetime | None = None  # None: now
    evidence: Sequence[str] = ()
    metadata: dict[str, object] = field(default_factory=dict)
    ttl_days: float | None = None
    expires_at: datetime | None = None
