"""Memory you can audit and rewind: every version of a core memory block and who wrote it,
restoring an old version as a new one, archival memory's inserts and deletes, and an agent's
memory as it was at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.specs import BlockPatch, Scope
from agent_runtime.facts.store import FactMemory
from agent_runtime.memory import agents as agents_
from agent_runtime.memory import blocks as blocks_
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Block, BlockVersion, Fact, PassageEvent
from agent_runtime.turns.services import Services

Patcher = Callable[[Session, Block, BlockPatch, str, int | None], Block]
MAX_HISTORY_PAGE = 500


@dataclass(frozen=True)
class BlockAsOf:
    label: str
    block_id: str
    version: BlockVersion


@dataclass(frozen=True)
class MemoryAsOf:
    at: datetime
    blocks: list[BlockAsOf]
    facts: list[Fact]


class MemoryHistory:
    def __init__(self, services: Services, facts: FactMemory, patch: Patcher) -> None:
        self.services = services
        self.facts = facts
        self._patch = patch  # Runtime._patch_block: edits, records, re-renders prompts

    def _read(self) -> Session:
        return Session(self.services.engine, expire_on_commit=False)

    def _block(self, session: Session, tenant: str, agent_id: str | None, key: str) -> Block:
        """An agent's block by label, or a tenant's block by id."""
        if agent_id is not None:
            agents_.get(session, tenant, agent_id)
            return blocks_.by_label(session, agent_id, key)
        return blocks_.get(session, tenant, key)

    def versions(
        self,
        tenant: str,
        key: str,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> tuple[Block, list[BlockVersion]]:
        """A block's versions, newest first (by label of `agent_id`, else by block id)."""
        if not 1 <= limit <= MAX_HISTORY_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_HISTORY_PAGE}", field="limit")
        with self._read() as session:
            block = self._block(session, tenant, agent_id, key)
            return block, blocks_.versions(session, block.id, limit=limit, before=before)

    def restore(
        self, tenant: str, key: str, version: int, *, agent_id: str | None = None
    ) -> tuple[Block, BlockVersion]:
        """Bring a block back to an earlier version's value, as a new version (history is never
        rewritten); the block's limit as it is now still applies."""
        with transaction(self.services.engine) as session:
            block = self._block(session, tenant, agent_id, key)
            old = blocks_.version(session, block.id, version)
            patch = BlockPatch(value=old.value)
            restored = self._patch(session, block, patch, "api", version)
            newest = blocks_.versions(session, block.id, limit=1)[0]
            return restored, newest

    def as_of(self, tenant: str, agent_id: str, at: datetime) -> MemoryAsOf:
        """The agent's blocks (those attached now) and its current facts as they were at `at`."""
        with self._read() as session:
            agents_.get(session, tenant, agent_id)
            blocks = []
            for block in blocks_.of_agent(session, agent_id):
                then = blocks_.as_of(session, block.id, at)
                if then is not None:
                    blocks.append(BlockAsOf(block.label, block.id, then))
        facts = self.facts.list_(tenant, Scope(agent_id=agent_id), as_of=at, limit=500)
        return MemoryAsOf(at, blocks, facts)

    def passages(
        self, tenant: str, agent_id: str, *, limit: int = 50, after: int | None = None
    ) -> list[PassageEvent]:
        """Archival memory's inserts and deletes, oldest first."""
        with self._read() as session:
            agents_.get(session, tenant, agent_id)
            query = select(PassageEvent).where(PassageEvent.agent_id == agent_id)
            if after is not None:
                query = query.where(col(PassageEvent.id) > after)
            return list(session.exec(query.order_by(col(PassageEvent.id)).limit(limit)))
