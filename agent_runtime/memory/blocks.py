"""Core memory blocks: create, read, edit, share between agents."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlmodel import Session, col, func, select

from agent_runtime.core.errors import Conflict, InvalidInput, LimitExceeded, NotFound
from agent_runtime.core.limits import MAX_BLOCK_DESCRIPTION_CHARS, MAX_BLOCK_LIMIT, MAX_LABEL_CHARS
from agent_runtime.core.specs import BlockPatch, BlockSpec
from agent_runtime.storage.tables import AgentBlock, Block, BlockVersion, utcnow

LABEL = re.compile(rf"[a-z][a-z0-9_]{{0,{MAX_LABEL_CHARS - 1}}}")  # matched whole: no "\n"


def validate(spec: BlockSpec) -> None:
    if not LABEL.fullmatch(spec.label):
        raise InvalidInput(
            f"block label {spec.label!r} must be lower-case letters, digits and _ "
            f"(starting with a letter, at most {MAX_LABEL_CHARS})",
            field="label",
        )
    if not 1 <= spec.limit <= MAX_BLOCK_LIMIT:
        raise InvalidInput(f"block limit must be 1 to {MAX_BLOCK_LIMIT} characters", field="limit")
    check_description(spec.description)
    if len(spec.value) > spec.limit:
        raise LimitExceeded(
            f"block {spec.label!r} value is {len(spec.value)} characters, "
            f"over its limit of {spec.limit}"
        )


def check_description(description: str) -> None:
    if len(description) > MAX_BLOCK_DESCRIPTION_CHARS:
        raise InvalidInput(
            f"block description is {len(description)} characters; "
            f"the limit is {MAX_BLOCK_DESCRIPTION_CHARS}",
            field="description",
        )


def create(
    session: Session,
    tenant_id: str,
    spec: BlockSpec,
    owner_agent_id: str | None = None,
    actor: str = "api",
) -> Block:
    validate(spec)
    block = Block(
        owner_agent_id=owner_agent_id,
        id="block-" + uuid.uuid4().hex,
        tenant_id=tenant_id,
        label=spec.label,
        value=spec.value,
        limit=spec.limit,
        description=spec.description,
        read_only=spec.read_only,
    )
    session.add(block)
    session.flush()
    record(session, block, actor)
    return block


def record(
    session: Session,
    block: Block,
    actor: str,
    *,
    agent_id: str | None = None,
    turn_id: str | None = None,
    restored_from: int | None = None,
) -> BlockVersion:
    """The block as it now is, as its next version (in the caller's transaction, which has
    already written the block: on PostgreSQL that row lock orders concurrent versions)."""
    last = session.exec(
        select(func.max(BlockVersion.version)).where(BlockVersion.block_id == block.id)
    ).one()
    version = BlockVersion(
        block_id=block.id,
        version=(last or 0) + 1,
        value=block.value,
        limit=block.limit,
        description=block.description,
        read_only=block.read_only,
        actor=actor,
        agent_id=agent_id,
        turn_id=turn_id,
        restored_from=restored_from,
    )
    session.add(version)
    return version


def versions(
    session: Session, block_id: str, *, limit: int, before: int | None = None
) -> list[BlockVersion]:
    """A block's versions, newest first; `before` pages back from a version."""
    query = select(BlockVersion).where(BlockVersion.block_id == block_id)
    if before is not None:
        query = query.where(col(BlockVersion.version) < before)
    return list(session.exec(query.order_by(col(BlockVersion.version).desc()).limit(limit)))


def version(session: Session, block_id: str, number: int) -> BlockVersion:
    found = session.exec(
        select(BlockVersion).where(
            BlockVersion.block_id == block_id, BlockVersion.version == number
        )
    ).first()
    if found is None:
        raise NotFound(f"block {block_id!r} has no version {number}")
    return found


def as_of(session: Session, block_id: str, moment: datetime) -> BlockVersion | None:
    """The version a block had at `moment` (None: it did not exist yet)."""
    return session.exec(
        select(BlockVersion)
        .where(BlockVersion.block_id == block_id, col(BlockVersion.created_at) <= moment)
        .order_by(col(BlockVersion.version).desc())
        .limit(1)
    ).first()


def get(session: Session, tenant_id: str, block_id: str) -> Block:
    block = session.get(Block, block_id)
    if block is None or block.tenant_id != tenant_id:
        raise NotFound(f"block {block_id!r} not found")
    return block


def list_for_tenant(session: Session, tenant_id: str, label: str | None = None) -> list[Block]:
    query = select(Block).where(Block.tenant_id == tenant_id)
    if label:
        query = query.where(Block.label == label)
    return list(session.exec(query.order_by(col(Block.created_at))))


def of_agent(session: Session, agent_id: str) -> list[Block]:
    query = (
        select(Block)
        .join(AgentBlock, col(AgentBlock.block_id) == col(Block.id))
        .where(AgentBlock.agent_id == agent_id)
        .order_by(col(AgentBlock.position), col(Block.label))
    )
    return list(session.exec(query))


def by_label(session: Session, agent_id: str, label: str) -> Block:
    for block in of_agent(session, agent_id):
        if block.label == label:
            return block
    raise NotFound(f"agent has no block {label!r}")


def attach(session: Session, agent_id: str, block: Block) -> None:
    current = of_agent(session, agent_id)
    if any(b.id == block.id for b in current):
        return
    if any(b.label == block.label for b in current):
        raise Conflict(f"agent already has a block labelled {block.label!r}")
    session.add(AgentBlock(agent_id=agent_id, block_id=block.id, position=len(current)))


def detach(session: Session, agent_id: str, block_id: str) -> None:
    link = session.get(AgentBlock, (agent_id, block_id))
    if link is None:
        raise NotFound(f"block {block_id!r} is not attached to this agent")
    session.delete(link)


def agents_of(session: Session, block_id: str) -> list[str]:
    query = (
        select(AgentBlock.agent_id)
        .where(AgentBlock.block_id == block_id)
        .order_by(col(AgentBlock.agent_id))
    )
    return list(session.exec(query))


def apply_patch(block: Block, patch: BlockPatch) -> None:
    value = block.value if patch.value is None else patch.value
    limit = block.limit if patch.limit is None else patch.limit
    validate(BlockSpec(label=block.label, value=value, limit=limit))
    block.value = value
    block.limit = limit
    if patch.description is not None:
        check_description(patch.description)
        block.description = patch.description
    if patch.read_only is not None:
        block.read_only = patch.read_only
    block.updated_at = utcnow()
