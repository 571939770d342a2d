"""Core memory through the API: an agent's blocks by label, a tenant's blocks by id (shared
between agents), and every edit recorded as a version that re-renders the system prompt of each
agent holding the block. `Runtime` holds one and offers its methods as its own."""

from __future__ import annotations

from sqlmodel import Session, select

from agent_runtime.core.specs import BlockPatch, BlockSpec
from agent_runtime.memory import agents as agents_
from agent_runtime.memory import blocks as blocks_
from agent_runtime.memory import window
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, AgentBlock, Block, utcnow
from agent_runtime.turns.services import Services

DEFAULT_TENANT = "default"


class CoreMemory:
    def __init__(self, services: Services) -> None:
        self.services = services

    def blocks(self, agent_id: str, *, tenant: str = DEFAULT_TENANT) -> list[Block]:
        with Session(self.services.engine, expire_on_commit=False) as session:
            agents_.get(session, tenant, agent_id)
            return blocks_.of_agent(session, agent_id)

    def block(self, agent_id: str, label: str, *, tenant: str = DEFAULT_TENANT) -> Block:
        with Session(self.services.engine, expire_on_commit=False) as session:
            agents_.get(session, tenant, agent_id)
            return blocks_.by_label(session, agent_id, label)

    def update_block(
        self, agent_id: str, label: str, patch: BlockPatch, *, tenant: str = DEFAULT_TENANT
    ) -> Block:
        with transaction(self.services.engine) as session:
            agents_.get(session, tenant, agent_id)
            block = blocks_.by_label(session, agent_id, label)
            return self.patch(session, block, patch)

    def patch(
        self,
        session: Session,
        block: Block,
        patch: BlockPatch,
        actor: str = "api",
        restored_from: int | None = None,
    ) -> Block:
        blocks_.apply_patch(block, patch)
        session.add(block)
        session.flush()
        blocks_.record(session, block, actor, restored_from=restored_from)
        for agent_id in blocks_.agents_of(session, block.id):
            agent = session.get(Agent, agent_id)
            if agent is not None:
                agent.memory_edited_at = utcnow()
                window.refresh_system(session, agent, self.services.counter)
        return block

    def create_block(self, spec: BlockSpec, *, tenant: str = DEFAULT_TENANT) -> Block:
        with transaction(self.services.engine) as session:
            return blocks_.create(session, tenant, spec)

    def list_blocks(self, *, tenant: str = DEFAULT_TENANT, label: str | None = None) -> list[Block]:
        with Session(self.services.engine, expire_on_commit=False) as session:
            return blocks_.list_for_tenant(session, tenant, label)

    def get_block(self, block_id: str, *, tenant: str = DEFAULT_TENANT) -> Block:
        with Session(self.services.engine, expire_on_commit=False) as session:
            return blocks_.get(session, tenant, block_id)

    def block_agents(self, block_id: str, *, tenant: str = DEFAULT_TENANT) -> list[str]:
        with Session(self.services.engine, expire_on_commit=False) as session:
            blocks_.get(session, tenant, block_id)
            return blocks_.agents_of(session, block_id)

    def patch_block(
        self, block_id: str, patch: BlockPatch, *, tenant: str = DEFAULT_TENANT
    ) -> Block:
        with transaction(self.services.engine) as session:
            return self.patch(session, blocks_.get(session, tenant, block_id), patch)

    def delete_block(self, block_id: str, *, tenant: str = DEFAULT_TENANT) -> None:
        with transaction(self.services.engine) as session:
            block = blocks_.get(session, tenant, block_id)
            linked = blocks_.agents_of(session, block_id)
            for link in session.exec(select(AgentBlock).where(AgentBlock.block_id == block_id)):
                session.delete(link)
            session.delete(block)
            session.flush()
            for agent_id in linked:
                agent = session.get(Agent, agent_id)
                if agent is not None:
                    window.refresh_system(session, agent, self.services.counter)

    def attach_block(self, agent_id: str, block_id: str, *, tenant: str = DEFAULT_TENANT) -> None:
        with transaction(self.services.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            blocks_.attach(session, agent_id, blocks_.get(session, tenant, block_id))
            session.flush()
            window.refresh_system(session, agent, self.services.counter)

    def detach_block(self, agent_id: str, block_id: str, *, tenant: str = DEFAULT_TENANT) -> None:
        with transaction(self.services.engine) as session:
            agent = agents_.get(session, tenant, agent_id)
            blocks_.detach(session, agent_id, block_id)
            session.flush()
            window.refresh_system(session, agent, self.services.counter)
