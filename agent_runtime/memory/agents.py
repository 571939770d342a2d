"""Agents: create, read, update, delete; every lookup is scoped to a tenant."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

import prompts
from agent_runtime.core.errors import Conflict, InvalidInput, NotFound
from agent_runtime.core.limits import (
    MAX_AGENT_NAME_CHARS,
    MAX_BLOCKS_PER_AGENT,
    MAX_CONTEXT_WINDOW,
    MAX_FALLBACK_MODELS,
    MAX_MODEL_CHARS,
    MAX_RETRY_SECONDS,
    MAX_STEPS_LIMIT,
    MAX_SYSTEM_CHARS,
    MAX_TTL_DAYS,
    MIN_CONTEXT_WINDOW,
)
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentPatch, AgentSpec, BlockSpec, Fallback
from agent_runtime.core.vocabulary import MemoryMode
from agent_runtime.llm.tokens import TokenCounter
from agent_runtime.memory import blocks as blocks_
from agent_runtime.memory.window import refresh_system
from agent_runtime.storage.tables import Agent, utcnow

# Letters, digits, '.', '-', '_' and inner spaces; matched whole, so no trailing newline.
NAME = re.compile(rf"[\w.\-](?:[\w .\-]{{0,{MAX_AGENT_NAME_CHARS - 2}}}[\w.\-])?")
DEFAULT_PERSONA = "I am a helpful assistant with a long memory."
PERSONA_ABOUT = "Who you are and how you speak."
HUMAN_ABOUT = "What you know about the user."


def check_model_name(model: str) -> None:
    """A model string is a name, not blank, with no spaces or control characters."""
    if not model.strip() or any(c.isspace() or ord(c) < 32 for c in model):
        raise InvalidInput(
            "model must be a model name like openai/gpt-4o-mini, with no spaces", field="model"
        )
    if len(model) > MAX_MODEL_CHARS:
        raise InvalidInput(f"model is over {MAX_MODEL_CHARS} characters", field="model")


def _check(
    name: str | None, context_window: int | None, max_steps: int | None, system: str | None
) -> None:
    # fullmatch: "$" would let a trailing newline through ("human" and "human\n" side by side)
    if name is not None and not NAME.fullmatch(name):
        raise InvalidInput(
            "name must be 1-100 letters, digits, inner spaces, '.', '-' or '_'", field="name"
        )
    if context_window is not None and not (
        MIN_CONTEXT_WINDOW <= context_window <= MAX_CONTEXT_WINDOW
    ):
        raise InvalidInput(
            f"context_window must be {MIN_CONTEXT_WINDOW} to {MAX_CONTEXT_WINDOW:,} tokens",
            field="context_window",
        )
    if max_steps is not None and not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise InvalidInput(f"max_steps must be 1 to {MAX_STEPS_LIMIT}", field="max_steps")
    if system is not None and len(system) > MAX_SYSTEM_CHARS:
        raise InvalidInput(
            f"system is {len(system)} characters; the limit is {MAX_SYSTEM_CHARS}", field="system"
        )


EPISODIC_KINDS = ("event", "plan", "paged")


def _memory_mode(mode: str) -> MemoryMode:
    try:
        return MemoryMode(mode)
    except ValueError:
        raise InvalidInput("memory must be auto or tools", field="memory") from None


def check_memory_ttl(ttl: dict[str, float | None] | None) -> None:
    """An agent's lifetimes: days (above 0) or null (never) for event, plan or paged."""
    for kind, days in (ttl or {}).items():
        if kind not in EPISODIC_KINDS:
            raise InvalidInput(
                f"memory_ttl sets {', '.join(EPISODIC_KINDS)}; not {kind[:40]!r}",
                field="memory_ttl",
            )
        if days is not None and not 0 < days <= MAX_TTL_DAYS:
            raise InvalidInput(
                f"memory_ttl.{kind} is days above 0 and at most {MAX_TTL_DAYS}, or null",
                field=f"memory_ttl.{kind}",
            )


def create(
    session: Session,
    tenant_id: str,
    spec: AgentSpec,
    settings: Settings,
    counter: TokenCounter,
    actor: str = "api",
) -> Agent:
    _check(spec.name, spec.context_window, spec.max_steps, spec.system)
    check_memory_ttl(spec.memory_ttl)
    _check_fallbacks(spec.fallback_models, spec.retry_seconds)
    if len(spec.blocks) + len(spec.block_ids) > MAX_BLOCKS_PER_AGENT:
        raise InvalidInput(f"an agent has at most {MAX_BLOCKS_PER_AGENT} blocks", field="blocks")
    specs = list(spec.blocks)
    labels = [b.label for b in specs]
    if len(set(labels)) != len(labels):
        raise InvalidInput("block labels must be unique", field="blocks")
    shared = [blocks_.get(session, tenant_id, block_id) for block_id in spec.block_ids]
    present = set(labels) | {b.label for b in shared}
    # The two default blocks fill whatever the caller did not give, by text or as blocks: an
    # agent given only a `human` block still has a persona, and the other way round.
    if "persona" not in present:
        persona = DEFAULT_PERSONA if spec.persona is None else spec.persona
        specs.insert(0, BlockSpec(label="persona", value=persona, description=PERSONA_ABOUT))
    if "human" not in present:
        specs.append(BlockSpec(label="human", value=spec.human or "", description=HUMAN_ABOUT))
    _unique_name(session, tenant_id, spec.name)
    agent = Agent(
        id="agent-" + uuid.uuid4().hex,
        tenant_id=tenant_id,
        name=spec.name,
        model=spec.model or settings.default_model,
        model_base_url=spec.model_base_url,
        context_window=spec.context_window or settings.default_context_window,
        embedding=spec.embedding or settings.default_embedding,
        instructions=spec.system or prompts.render("instructions.j2").strip(),
        max_steps=spec.max_steps or settings.default_max_steps,
        memory_ttl=dict(spec.memory_ttl or {}),
        memory=_memory_mode(spec.memory or MemoryMode.AUTO),
        memory_model=spec.memory_model,
        fallback_models=[f.to_json() for f in spec.fallback_models or []],
        retry_seconds=spec.retry_seconds,
    )
    session.add(agent)
    session.flush()
    for block_spec in specs:
        block = blocks_.create(session, tenant_id, block_spec, agent.id, actor)
        blocks_.attach(session, agent.id, block)
        session.flush()
    for block in shared:
        blocks_.attach(session, agent.id, block)
        session.flush()
    refresh_system(session, agent, counter)
    return agent


def _check_fallbacks(fallbacks: list[Fallback] | None, retry_seconds: float | None) -> None:
    if fallbacks is not None and len(fallbacks) > MAX_FALLBACK_MODELS:
        raise InvalidInput(
            f"an agent has at most {MAX_FALLBACK_MODELS} fallback models", field="fallback_models"
        )
    for fallback in fallbacks or []:
        check_model_name(fallback.model)
    if retry_seconds is not None and not 0 <= retry_seconds <= MAX_RETRY_SECONDS:
        raise InvalidInput(
            f"retry_seconds must be 0 to {MAX_RETRY_SECONDS:g}", field="retry_seconds"
        )


def _unique_name(session: Session, tenant_id: str, name: str, agent_id: str | None = None) -> None:
    query = select(Agent.id).where(Agent.tenant_id == tenant_id, Agent.name == name)
    found = session.exec(query).first()
    if found is not None and found != agent_id:
        raise Conflict(f"an agent named {name!r} already exists ({found}); names are unique")


def get(session: Session, tenant_id: str, agent_id: str) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None or agent.tenant_id != tenant_id:
        raise NotFound(f"agent {agent_id!r} not found")
    return agent


def find(session: Session, tenant_id: str, ref: str) -> Agent | None:
    """The agent `ref` names, by name first (names are what people type), else by id."""
    if NAME.fullmatch(ref):
        named = list_(session, tenant_id, limit=1, name=ref)
        if named:
            return named[0]
    agent = session.get(Agent, ref)
    return agent if agent is not None and agent.tenant_id == tenant_id else None


def list_(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after: str | None = None,
    name: str | None = None,
    containing: str | None = None,
) -> list[Agent]:
    """Oldest first; `after` is the id of the last agent of the previous page; `containing`:
    only names with this text in them, in any case."""
    query = select(Agent).where(Agent.tenant_id == tenant_id)
    if name:
        query = query.where(Agent.name == name)
    if containing:
        escaped = containing.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Agent.name).ilike(f"%{escaped}%", escape="\\"))
    if after:
        last = session.get(Agent, after)
        if last is None or last.tenant_id != tenant_id:
            raise InvalidInput(f"'after' names no agent: {after!r}", field="after")
        query = query.where(
            or_(
                col(Agent.created_at) > last.created_at,
                and_(col(Agent.created_at) == last.created_at, col(Agent.id) > after),
            )
        )
    order = (col(Agent.created_at), col(Agent.id))
    return list(session.exec(query.order_by(*order).limit(limit)))


def update(session: Session, agent: Agent, patch: AgentPatch, counter: TokenCounter) -> Agent:
    _check(patch.name, patch.context_window, patch.max_steps, patch.system)
    check_memory_ttl(patch.memory_ttl)
    _check_fallbacks(patch.fallback_models, patch.retry_seconds)
    if patch.fallback_models is not None:
        agent.fallback_models = [f.to_json() for f in patch.fallback_models]
    if patch.retry_seconds is not None:
        agent.retry_seconds = patch.retry_seconds
    if patch.memory_ttl is not None:
        agent.memory_ttl = {**agent.memory_ttl, **patch.memory_ttl}
    if patch.memory is not None:
        agent.memory = _memory_mode(patch.memory)
    if patch.memory_model is not None:
        agent.memory_model = patch.memory_model
    if patch.name is not None:
        _unique_name(session, agent.tenant_id, patch.name, agent.id)
    for field in ("name", "model", "model_base_url", "context_window", "max_steps"):
        value = getattr(patch, field)
        if value is not None:
            setattr(agent, field, value)
    if patch.system is not None:
        agent.instructions = patch.system
    agent.updated_at = utcnow()
    refresh_system(session, agent, counter)
    if patch.model is not None:
        # Token counts depend on the model's tokenizer; the prompt is recounted above.
        agent.system_prompt_tokens = counter.text(agent.model, agent.system_prompt)
    return agent
