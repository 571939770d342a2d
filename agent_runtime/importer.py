"""Agents and memories brought in: recalld's own agent document, Letta agent files (mapped to
one, with what has no counterpart reported), and Mem0 memory exports (as facts, as they are).

An import is one transaction, written in bounded batches: it completes, or leaves nothing
behind. Ids are new; times, order and the links between rows (a summary's last message, a
passage's source message, a fact's successor) are kept by position.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlmodel import Session

from agent_runtime import agent_file as doc
from agent_runtime.core import limits
from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.specs import AgentSpec, BlockSpec, FactInput, Fallback, Scope
from agent_runtime.facts import slots
from agent_runtime.facts.store import FactMemory
from agent_runtime.jobs.queue import first_run
from agent_runtime.memory import agents as agents_
from agent_runtime.memory import messages as messages_
from agent_runtime.memory import passages as passages_
from agent_runtime.memory import window
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import (
    Agent,
    Fact,
    FactEvent,
    Job,
    Message,
    Passage,
    Summary,
    utcnow,
)
from agent_runtime.turns.services import Services

BATCH = 1000
NOT_NAME = re.compile(r"[^\w .\-]+")
MEMORY_TOOLS = {
    "core_memory_append",
    "core_memory_replace",
    "archival_memory_insert",
    "archival_memory_search",
    "conversation_search",
    "send_message",
}


@dataclass
class Imported:
    agent: Agent | None
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # what had no counterpart here


class Importer:
    def __init__(
        self,
        services: Services,
        facts: FactMemory,
        check_model: Callable[[str, str | None], None],
    ) -> None:
        self.services = services
        self.facts = facts
        # The checks a created agent's model meets (its route, an allowed base URL).
        self.check_model = check_model

    # -- recalld's own document ---------------------------------------------------------------

    def agent(
        self, tenant: str, document: doc.AgentDocument, *, name: str | None = None
    ) -> Imported:
        config = document.agent
        spec = AgentSpec(
            name=name or config.name,
            model=config.model,
            model_base_url=config.model_base_url,
            context_window=config.context_window,
            embedding=config.embedding,
            system=config.system,
            blocks=[
                BlockSpec(b.label, b.value, b.limit, b.description, b.read_only)
                for b in document.blocks
            ],
            max_steps=config.max_steps,
            memory_ttl={str(k): v for k, v in config.memory_ttl.items()},
            memory=config.memory,
            memory_model=config.memory_model,
            fallback_models=[Fallback(f.model, f.base_url) for f in config.fallback_models],
            retry_seconds=config.retry_seconds,
        )
        self._check(document)
        self.check_model(config.model, config.model_base_url)
        for fallback in config.fallback_models:
            self.check_model(fallback.model, fallback.base_url)
        self.services.embedders.get(config.embedding)  # an unknown embedding fails now
        vectors = self._fact_vectors(document.facts)
        counter = self.services.counter
        with transaction(self.services.engine) as session:
            agent = agents_.create(
                session, tenant, spec, self.services.settings, counter, actor="import"
            )
            agent.created_at = config.created_at
            ids = self._messages(session, agent, document.messages)
            if document.summary is not None:
                self._summary(session, agent, document.summary, ids)
            self._passages(session, agent, document.passages, ids)
            facts = self._facts(session, agent, document.facts, vectors)
            for job in document.jobs:
                session.add(
                    Job(
                        id="job-" + uuid.uuid4().hex,
                        tenant_id=tenant,
                        agent_id=agent.id,
                        goal=job.goal,
                        max_steps=job.max_steps,
                        max_duration_seconds=job.max_duration_seconds,
                        schedule=job.schedule,
                        run_after=first_run(job.schedule, utcnow()),
                    )
                )
            window.refresh_system(session, agent, counter)
            session.add(agent)
        self.services.indexer.schedule(agent.id)
        self.facts.vectors.index_pending()
        shared = [b.label for b in document.blocks if b.shared]
        return Imported(
            agent,
            {
                "blocks": len(document.blocks),
                "messages": len(document.messages),
                "passages": len(document.passages),
                "facts": len(facts),
                "jobs": len(document.jobs),
            },
            [f"shared block {label!r} is this agent's own now" for label in shared],
        )

    def _check(self, document: doc.AgentDocument) -> None:
        """What the models cannot say: positions that point past their lists."""
        count = len(document.messages)
        if document.summary is not None and document.summary.evicted_through >= count:
            raise InvalidInput("summary.evicted_through is past the messages", field="summary")
        for i, p in enumerate(document.passages):
            if p.source_message is not None and not 0 <= p.source_message < count:
                raise InvalidInput(
                    f"passages[{i}].source_message is not a message",
                    field=f"passages[{i}].source_message",
                )
        for i, f in enumerate(document.facts):
            if f.superseded_by is not None and not 0 <= f.superseded_by < len(document.facts):
                raise InvalidInput(
                    f"facts[{i}].superseded_by is not a fact", field=f"facts[{i}].superseded_by"
                )

    def _messages(self, session: Session, agent: Agent, items: list[doc.MessageDoc]) -> list[int]:
        ids: list[int] = []
        before = ""
        for start in range(0, len(items), BATCH):
            rows = [
                Message(
                    agent_id=agent.id,
                    turn_id=m.turn or "import",
                    step=m.step,
                    role=m.role,
                    content=m.content,
                    tool_calls=m.tool_calls,
                    tool_call_id=m.tool_call_id,
                    name=m.name,
                    in_context=m.in_context,
                    created_at=_aware(m.created_at),
                )
                for m in items[start : start + BATCH]
            ]
            messages_.chain(rows, before)
            spoken = [r for r in rows if r.role in messages_.SPOKEN and r.content]
            if spoken:
                before = f"{spoken[-1].role}: {spoken[-1].content}"
            for row in rows:
                row.tokens = self.services.counter.message(agent.model, messages_.to_openai(row))
            session.add_all(rows)
            session.flush()
            ids += [int(r.id or 0) for r in rows]
            session.expunge_all()  # bounded: the batch leaves the session once written
            session.add(agent)
        agent.message_count = len(items)
        return ids

    @staticmethod
    def _summary(session: Session, agent: Agent, summary: doc.SummaryDoc, ids: list[int]) -> None:
        session.add(
            Summary(
                agent_id=agent.id,
                text=summary.text,
                evicted_through=ids[summary.evicted_through] if summary.evicted_through >= 0 else 0,
                evicted_count=summary.evicted_count,
                truncated=summary.truncated,
                created_at=_aware(summary.created_at),
            )
        )

    @staticmethod
    def _passages(
        session: Session, agent: Agent, items: list[doc.PassageDoc], ids: list[int]
    ) -> None:
        for start in range(0, len(items), BATCH):
            rows = [
                Passage(
                    agent_id=agent.id,
                    text=p.text,
                    prior=p.prior,
                    tags=list(p.tags),
                    origin=p.origin,
                    source_message_id=None if p.source_message is None else ids[p.source_message],
                    created_at=_aware(p.created_at),
                    expires_at=None if p.expires_at is None else _aware(p.expires_at),
                )
                for p in items[start : start + BATCH]
            ]
            session.add_all(rows)
            session.flush()
            for row in rows:
                passages_.audit(session, row, "inserted", "import")
            session.flush()
            session.expunge_all()
            session.add(agent)
        agent.passage_count = len(items)

    def _fact_vectors(self, items: list[doc.FactDoc]) -> list[bytes | None]:
        embedder = self.facts.embedder()
        out: list[bytes | None] = []
        for start in range(0, len(items), BATCH):
            texts = [f.text for f in items[start : start + BATCH]]
            live = [t for t in texts if t]
            vectors = iter(embedder.embed(live)) if live else iter(())
            out += [
                np.asarray(next(vectors), dtype=np.float32).tobytes() if t else None for t in texts
            ]
        return out

    @staticmethod
    def _facts(
        session: Session, agent: Agent, items: list[doc.FactDoc], vectors: list[bytes | None]
    ) -> list[Fact]:
        rows = []
        agent.has_facts = agent.has_facts or bool(items)
        for f, vector in zip(items, vectors, strict=True):
            row = Fact(
                tenant_id=agent.tenant_id,
                user_id=f.user_id,
                agent_id=agent.id,
                run_id=f.run_id,
                text=f.text,
                subject=f.subject,
                subject_key=slots.subject_key(f.subject),
                attribute=slots.attribute_key(f.attribute),
                value=f.value,
                value_key=slots.value_key(f.value),
                kind=f.kind,
                cardinality=f.cardinality,
                valid_at=_aware(f.valid_at),
                invalid_at=None if f.invalid_at is None else _aware(f.invalid_at),
                created_at=_aware(f.created_at),
                updated_at=utcnow(),
                expired_at=None if f.expired_at is None else _aware(f.expired_at),
                retired=f.retired,
                expires_at=None if f.expires_at is None else _aware(f.expires_at),
                evidence=list(f.evidence),
                evidence_count=f.evidence_count,
                meta=dict(f.metadata),
                vector=vector,
                indexed=vector is None,
            )
            session.add(row)
            rows.append(row)
        session.flush()
        for row, f in zip(rows, items, strict=True):
            if f.superseded_by is not None:
                row.superseded_by = rows[f.superseded_by].id
                session.add(row)
            for event in f.history:
                session.add(
                    FactEvent(
                        fact_id=int(row.id or 0),
                        event=event.event,
                        old_value=event.old_value,
                        new_value=event.new_value,
                        actor=event.actor,
                        data=dict(event.data),
                        created_at=_aware(event.created_at),
                    )
                )
        return rows

    # -- Letta ---------------------------------------------------------------------------------

    def letta(
        self, tenant: str, agent_file: doc.LettaAgentFile, *, name: str | None = None
    ) -> Imported:
        """Map a Letta agent file onto recalld's document, then import that."""
        document, skipped = self.from_letta(agent_file)
        done = self.agent(tenant, document, name=name)
        done.skipped = skipped + done.skipped
        return done

    def from_letta(self, af: doc.LettaAgentFile) -> tuple[doc.AgentDocument, list[str]]:
        settings = self.services.settings
        skipped: list[str] = []
        model = af.llm_config.model
        if af.llm_config.model_endpoint_type and "/" not in model:
            model = f"{af.llm_config.model_endpoint_type}/{model}"
        try:
            self.services.check_route(model)
        except Exception:  # a model litellm cannot route here: ours, and say so
            skipped.append(f"model {model!r} (cannot be routed here; {settings.default_model})")
            model = settings.default_model
        window_size = af.llm_config.context_window or settings.default_context_window
        window_size = min(max(window_size, limits.MIN_CONTEXT_WINDOW), limits.MAX_CONTEXT_WINDOW)
        system = af.system or ""
        if len(system) > limits.MAX_SYSTEM_CHARS:
            skipped.append(f"system prompt past {limits.MAX_SYSTEM_CHARS} characters")
            system = system[: limits.MAX_SYSTEM_CHARS]
        in_context = set(af.in_context_message_indices or [])
        messages: list[doc.MessageDoc] = []
        relayed: set[str] = set()  # send_message calls: their text is the reply itself
        for i, m in enumerate(af.messages):
            when = _aware(m.created_at or af.created_at or utcnow())
            live = bool(m.in_context) if m.in_context is not None else i in in_context
            text = _text(m.content)
            if m.role == "system" and i == 0:
                continue  # Letta's first message is its rendered system prompt
            if m.role == "tool" and m.tool_call_id in relayed:
                continue
            calls = []
            for call in m.tool_calls or []:
                function = call.get("function") or {}
                if function.get("name") == "send_message":
                    text = _argument(function.get("arguments"), "message") or text
                    relayed.add(str(call.get("id")))
                else:
                    calls.append(
                        {
                            "id": str(call.get("id") or f"call_{uuid.uuid4().hex[:12]}"),
                            "type": "function",
                            "function": {
                                "name": str(function.get("name") or "tool"),
                                "arguments": str(function.get("arguments") or "{}"),
                            },
                        }
                    )
            messages.append(
                doc.MessageDoc(
                    role=m.role,
                    content=text[: limits.MAX_INPUT_CHARS],
                    tool_calls=calls or None,
                    tool_call_id=m.tool_call_id if m.role == "tool" else None,
                    name=m.name if m.role == "tool" else None,
                    turn=f"letta-{i}",
                    in_context=live,
                    created_at=when,
                )
            )
        for tool in af.tools:
            tool_name = str(tool.get("name") or "?")
            if tool_name not in MEMORY_TOOLS:
                skipped.append(f"tool {tool_name!r} (custom tools are not imported)")
        if af.tool_rules:
            skipped.append(f"{len(af.tool_rules)} tool rules")
        blocks = [
            doc.BlockDoc(
                label=_label(b.label),
                value=b.value,
                limit=max(b.limit, len(b.value), 1),
                description=(b.description or "")[: limits.MAX_BLOCK_DESCRIPTION_CHARS],
            )
            for b in af.core_memory
        ]
        document = doc.AgentDocument(
            format=doc.FORMAT,
            version=doc.VERSION,
            agent=doc.AgentConfig(
                name=_name(af.name),
                model=model,
                model_base_url=None,
                memory_model=None,
                context_window=window_size,
                embedding=settings.default_embedding,
                system=system or "You are a helpful assistant with a long memory.",
                max_steps=settings.default_max_steps,
                memory="tools",
                retry_seconds=None,
                created_at=_aware(af.created_at or utcnow()),
            ),
            blocks=blocks,
            messages=messages,
        )
        return document, skipped

    # -- Mem0 ----------------------------------------------------------------------------------

    def mem0(self, tenant: str, export: doc.Mem0Export) -> dict[str, int]:
        """Each memory a fact, as it is (infer: false), in its user's and run's scope; Mem0's
        agent_id (free text there) goes into the metadata. All or nothing."""
        by_scope: dict[tuple[str | None, str | None], list[FactInput]] = {}
        for m in export.results:
            metadata = {k: v for k, v in (m.metadata or {}).items() if _plain(v)}
            extra = m.model_extra or {}
            if extra.get("id") is not None:
                metadata["mem0_id"] = str(extra["id"])[:200]
            if m.agent_id:
                metadata["mem0_agent_id"] = m.agent_id
            fact = FactInput(
                text=m.memory, valid_at=m.created_at, metadata=metadata, evidence=["mem0"]
            )
            by_scope.setdefault((m.user_id, m.run_id), []).append(fact)
        written = 0
        with transaction(self.services.engine) as session:
            for (user_id, run_id), facts in sorted(by_scope.items(), key=lambda s: str(s[0])):
                scope = Scope(user_id=user_id, run_id=run_id)
                result = self.facts.write_in(
                    session, tenant, facts, scope, actor="import", most=len(export.results)
                )
                written += len(result.added) + len(result.merged)
        self.facts.vectors.index_pending()
        return {"memories": len(export.results), "facts": written}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text") or "") for part in content if part.get("text"))


def _argument(raw: Any, key: str) -> str:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return ""
    return str(value.get(key) or "") if isinstance(value, dict) else ""


def _name(name: str) -> str:
    clean = NOT_NAME.sub("-", name).strip(" -")[: limits.MAX_AGENT_NAME_CHARS]
    return clean or "imported"


def _label(label: str) -> str:
    clean = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_") or "block"
    return clean if clean[0].isalpha() else f"b_{clean}"[: limits.MAX_LABEL_CHARS]


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
