"""An agent as one document (agent_file.AgentDocument), written as it is read: rows come from
the database a page at a time, so exporting a large agent never holds it whole in memory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime import agent_file as doc
from agent_runtime.core.vocabulary import JobStatus
from agent_runtime.memory import agents as agents_
from agent_runtime.memory import blocks as blocks_
from agent_runtime.memory.window import latest_summary
from agent_runtime.storage.tables import Agent, Fact, FactEvent, Job, Message, Passage, utcnow

PAGE = 1000


def export(engine: Engine, tenant: str, agent_id: str) -> Iterator[str]:
    """Check the agent now (a 404 comes before any byte), then stream its document."""
    with Session(engine) as session:
        agents_.get(session, tenant, agent_id)
    return _document(engine, agent_id)


def _document(engine: Engine, agent_id: str) -> Iterator[str]:
    with Session(engine) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        head = doc.AgentDocument(
            format=doc.FORMAT,
            version=doc.VERSION,
            exported_at=utcnow(),
            agent=_config(agent),
            blocks=[
                doc.BlockDoc(
                    label=b.label,
                    value=b.value,
                    limit=b.limit,
                    description=b.description,
                    read_only=b.read_only,
                    shared=len(blocks_.agents_of(session, b.id)) > 1,
                )
                for b in blocks_.of_agent(session, agent_id)
            ],
        )
        newest = (
            session.exec(
                select(col(Message.id))
                .where(Message.agent_id == agent_id)
                .order_by(col(Message.id).desc())
                .limit(1)
            ).first()
            or 0
        )
    header = head.model_dump(
        mode="json", include={"format", "version", "exported_at", "agent", "blocks"}
    )
    yield json.dumps(header)[:-1]  # the object stays open for the lists that follow
    positions: dict[int, int] = {}
    yield ', "messages": ['
    yield from _rows(
        engine,
        Message,
        Message.agent_id == agent_id,
        newest,
        lambda _s, page: [_message(m, positions) for m in page],
    )
    yield "]"
    with Session(engine) as session:
        summary = latest_summary(session, agent_id)
        jobs = _schedules(session, agent_id)
    if summary is not None:
        yield (
            ', "summary": '
            + doc.SummaryDoc(
                text=summary.text,
                evicted_through=positions.get(summary.evicted_through, -1),
                evicted_count=summary.evicted_count,
                truncated=summary.truncated,
                created_at=summary.created_at,
            ).model_dump_json()
        )
    yield ', "passages": ['
    yield from _rows(
        engine,
        Passage,
        Passage.agent_id == agent_id,
        None,
        lambda _s, page: [_passage(p, positions) for p in page],
    )
    yield '], "facts": ['
    with Session(engine) as session:
        ids = list(
            session.exec(select(Fact.id).where(Fact.agent_id == agent_id).order_by(col(Fact.id)))
        )
    place = {int(i or 0): n for n, i in enumerate(ids)}
    yield from _rows(
        engine, Fact, Fact.agent_id == agent_id, None, lambda s, page: _facts(s, page, place)
    )
    yield '], "jobs": ' + json.dumps([j.model_dump(mode="json") for j in jobs]) + "}"


def _rows(
    engine: Engine,
    table: Any,
    where: Any,
    upto: int | None,
    render: Callable[[Session, list[Any]], list[BaseModel]],
) -> Iterator[str]:
    """Rows in id order, a page at a time, rendered a page at a time (so what a row needs from
    other tables is read once per page), each as JSON, comma-separated."""
    after, first = 0, True
    while True:
        with Session(engine) as session:
            query = select(table).where(where, col(table.id) > after)
            if upto is not None:
                query = query.where(col(table.id) <= upto)
            page = list(session.exec(query.order_by(col(table.id)).limit(PAGE)))
            rendered = render(session, page)
        for model in rendered:
            yield ("" if first else ", ") + model.model_dump_json()
            first = False
        if len(page) < PAGE:
            return
        after = page[-1].id


def _config(agent: Agent) -> doc.AgentConfig:
    return doc.AgentConfig(
        name=agent.name,
        model=agent.model,
        model_base_url=agent.model_base_url,
        context_window=agent.context_window,
        embedding=agent.embedding,
        system=agent.instructions,
        max_steps=agent.max_steps,
        memory=agent.memory,  # type: ignore[arg-type]
        memory_model=agent.memory_model,
        memory_ttl=dict(agent.memory_ttl),  # type: ignore[arg-type]
        fallback_models=[doc.FallbackDoc.model_validate(f) for f in agent.fallback_models],
        retry_seconds=agent.retry_seconds,
        created_at=agent.created_at,
    )


def _message(row: Message, positions: dict[int, int]) -> doc.MessageDoc:
    positions[int(row.id or 0)] = len(positions)
    return doc.MessageDoc(
        role=row.role,  # type: ignore[arg-type]
        content=row.content,
        tool_calls=row.tool_calls,
        tool_call_id=row.tool_call_id,
        name=row.name,
        turn=row.turn_id,
        step=row.step,
        in_context=row.in_context,
        created_at=row.created_at,
    )


def _passage(row: Passage, positions: dict[int, int]) -> doc.PassageDoc:
    return doc.PassageDoc(
        text=row.text,
        prior=row.prior,
        tags=list(row.tags),
        origin=row.origin,  # type: ignore[arg-type]
        source_message=None
        if row.source_message_id is None
        else positions.get(row.source_message_id),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def _facts(session: Session, page: list[Fact], place: dict[int, int]) -> list[BaseModel]:
    """A page of facts with their histories, read in one query."""
    events: dict[int, list[FactEvent]] = {}
    query = select(FactEvent).where(col(FactEvent.fact_id).in_([f.id for f in page]))
    for event in session.exec(query.order_by(col(FactEvent.id))):
        events.setdefault(event.fact_id, []).append(event)
    return [_fact(row, events.get(int(row.id or 0), []), place) for row in page]


def _fact(row: Fact, events: list[FactEvent], place: dict[int, int]) -> doc.FactDoc:
    return doc.FactDoc(
        text=row.text,
        subject=row.subject,
        attribute=row.attribute,
        value=row.value,
        kind=row.kind,  # type: ignore[arg-type]
        cardinality=row.cardinality,  # type: ignore[arg-type]
        user_id=row.user_id,
        run_id=row.run_id,
        valid_at=row.valid_at,
        invalid_at=row.invalid_at,
        created_at=row.created_at,
        expired_at=row.expired_at,
        retired=row.retired,  # type: ignore[arg-type]
        superseded_by=None if row.superseded_by is None else place.get(row.superseded_by),
        expires_at=row.expires_at,
        evidence=list(row.evidence),
        evidence_count=row.evidence_count,
        metadata=dict(row.meta),
        history=[
            doc.FactEventDoc(
                event=e.event,
                old_value=e.old_value,
                new_value=e.new_value,
                actor=e.actor,
                data=dict(e.data),
                created_at=e.created_at,
            )
            for e in events
        ],
    )


def _schedules(session: Session, agent_id: str) -> list[doc.JobDoc]:
    """The schedules still running: the queued next run of each."""
    runs = session.exec(
        select(Job).where(
            Job.agent_id == agent_id,
            col(Job.schedule).is_not(None),
            Job.status == JobStatus.QUEUED,
            col(Job.cancel_requested).is_(False),
        )
    )
    return [
        doc.JobDoc(
            goal=j.goal,
            schedule=j.schedule or "",
            max_steps=j.max_steps,
            max_duration_seconds=j.max_duration_seconds,
        )
        for j in runs
    ]
