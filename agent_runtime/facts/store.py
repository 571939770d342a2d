"""`FactMemory`: writing, finding, changing and forgetting a tenant's facts.

A write embeds its facts (one batch), places each by the rules (rules.py) in one transaction,
and after the commit puts their vectors in the index. The database is the source of truth: a
fact whose vectors did not reach the index is still found (its vector is kept in its row and
scored in memory) and is indexed again by `FactVectors.index_pending` (vectors.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent_runtime.core.errors import InvalidInput, LimitExceeded, NotFound
from agent_runtime.core.kept import Kept
from agent_runtime.core.limits import MAX_FACTS_PER_WRITE, MAX_QUERY_CHARS
from agent_runtime.core.specs import FactInput, Scope
from agent_runtime.core.vocabulary import FactEventKind, Retired
from agent_runtime.embedding import Embedder
from agent_runtime.facts import filters as filters_
from agent_runtime.facts import keywords, rules, slots
from agent_runtime.facts.search import (
    Brief,
    FactHit,
    FactSearch,
    Validity,
    scope_conditions,
    scope_fields,
)
from agent_runtime.facts.vectors import FactVectors
from agent_runtime.retrieval.search import Fusion
from agent_runtime.retrieval.vector_index import VectorIndex
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Fact, FactEvent, utcnow

log = logging.getLogger(__name__)
SPILL_CHECK = 20  # sections of a scope that did not fit whole, started as if they will not
NO_SCOPE = Scope()


@dataclass
class WriteResult:
    """What a write changed, fact by fact."""

    added: list[Fact] = field(default_factory=list)
    merged: list[Fact] = field(default_factory=list)
    superseded: list[tuple[Fact, int]] = field(default_factory=list)  # (old, replaced by)
    negated: list[Fact] = field(default_factory=list)
    unchanged: list[tuple[int, str]] = field(default_factory=list)  # (input index, why)


@dataclass(frozen=True)
class FactPatch:
    text: str | None = None
    value: str | None = None
    kind: str | None = None
    metadata: dict[str, Any] | None = None
    expires_at: datetime | None = None
    clear_expiry: bool = False


class FactMemory:
    def __init__(
        self,
        engine: Engine,
        index: VectorIndex,
        embedder: Callable[[], Embedder],
        lifetimes: Callable[[Session, Scope], dict[str, float | None]],
        fusion: Fusion | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.index = index
        self.embedder = embedder  # facts are embedded by the server's default embedder
        self.lifetimes = lifetimes  # days per kind, for a write's scope (its agent's, if any)
        self.searcher = FactSearch(index, fusion)
        self.vectors = FactVectors(engine, index, embedder)
        self.clock = clock
        # The small scopes whose last section did not fit whole: their next ones start the
        # query's embedding beside the read instead of after it (re-checked every 20 turns).
        self.spilled: Kept[None] = Kept(SPILL_CHECK)

    def close(self) -> None:
        self.searcher.close()

    # -- writing ----------------------------------------------------------------------------

    def write(
        self,
        tenant: str,
        facts: Sequence[FactInput],
        scope: Scope = NO_SCOPE,
        *,
        actor: str = "api",
        also: Callable[[Session, WriteResult], None] | None = None,
    ) -> WriteResult:
        """Place each fact by the rules, in order, in one transaction: all or nothing. `also`
        runs in that transaction before it commits (extraction marks its batch done there).
        Embedding and the index's near-duplicate queries happen before it, not under its lock."""
        if not facts and also is None:
            raise InvalidInput("write at least one fact", field="facts")
        prepared = self._prepare(tenant, facts, scope, MAX_FACTS_PER_WRITE)
        with transaction(self.engine) as session:
            result = self._place(session, tenant, scope, prepared, actor)
            if also is not None:
                also(session, result)
        self.vectors.upsert(tenant, result.added)
        return result

    def write_in(
        self,
        session: Session,
        tenant: str,
        facts: Sequence[FactInput],
        scope: Scope = NO_SCOPE,
        *,
        actor: str = "api",
        most: int = MAX_FACTS_PER_WRITE,
    ) -> WriteResult:
        """`write` in the caller's transaction (an import's); the caller indexes the facts
        after its commit (`vectors.index_pending`)."""
        prepared = self._prepare(tenant, facts, scope, most)
        return self._place(session, tenant, scope, prepared, actor)

    def _prepare(
        self, tenant: str, facts: Sequence[FactInput], scope: Scope, most: int
    ) -> list[tuple[FactInput, Fact, set[int]]]:
        """Each fact checked, as its row with its vector, and (a free statement) the kept facts
        near it in the index."""
        if len(facts) > most:
            raise LimitExceeded(f"at most {most} facts per write", field="facts")
        for i, fact in enumerate(facts):
            try:
                slots.check(fact)
            except (InvalidInput, LimitExceeded) as exc:
                exc.message = f"facts[{i}]: {exc.message}"
                exc.field = f"facts[{i}].{exc.field or 'text'}"
                raise
        now = self.clock()
        rows = [self._row(tenant, fact, scope, now) for fact in facts]
        vectors = self.embedder().embed([row.text for row in rows]) if rows else np.zeros((0, 1))
        for row, vector in zip(rows, vectors, strict=True):
            row.vector = np.asarray(vector, dtype=np.float32).tobytes()
        return [
            (fact, row, set() if row.attribute else self.vectors.near(row))
            for fact, row in zip(facts, rows, strict=True)
        ]

    def _place(
        self,
        session: Session,
        tenant: str,
        scope: Scope,
        prepared: list[tuple[FactInput, Fact, set[int]]],
        actor: str,
    ) -> WriteResult:
        result = WriteResult()
        written: list[Fact] = []
        if scope.agent_id is not None:
            _check_agent(session, tenant, scope.agent_id)
        lifetimes = self.lifetimes(session, scope)
        for i, (fact, row, near) in enumerate(prepared):
            now = row.created_at
            row.expires_at = slots.expires_at(fact, slots.kind_of(fact.kind), now, lifetimes)
            _lock_slot(session, row)
            if not row.attribute:  # and this write's own statements said just before it
                near = near | {int(w.id or 0) for w in written if _near(w, row)}
            placed = rules.place(
                session,
                row,
                negates=fact.negates,
                near=_near,
                actor=actor,
                now=now,
                neighbours=near,
            )
            _record(result, i, placed)
            if placed.outcome == "added":
                written.append(row)
        return result

    def _row(self, tenant: str, fact: FactInput, scope: Scope, now: datetime) -> Fact:
        attribute = slots.attribute_key(fact.attribute)
        text_ = fact.text.strip() or slots.statement(
            fact.subject, attribute, fact.value, fact.negates
        )
        value = fact.value.strip() if attribute else text_
        return Fact(
            tenant_id=tenant,
            user_id=scope.user_id,
            agent_id=scope.agent_id,
            run_id=scope.run_id,
            text=text_,
            subject=fact.subject.strip(),
            subject_key=slots.subject_key(fact.subject),
            attribute=attribute,
            value=value,
            value_key=slots.value_key(value),
            kind=slots.kind_of(fact.kind),
            cardinality=slots.cardinality_of(attribute, fact.cardinality),
            valid_at=slots.aware(fact.valid_at) if fact.valid_at else now,
            created_at=now,
            updated_at=now,
            evidence=list(dict.fromkeys(fact.evidence)),
            evidence_count=max(len(fact.evidence), 1),
            meta=dict(fact.metadata),
        )

    # -- reading ----------------------------------------------------------------------------

    def search(
        self,
        tenant: str,
        query: str,
        scope: Scope = NO_SCOPE,
        *,
        filters: dict[str, Any] | None = None,
        as_of: datetime | None = None,
        include_history: bool = False,
        limit: int = 10,
        threshold: float | None = None,
        exact_scope: bool = False,
    ) -> list[FactHit]:
        """The best facts for `query`. A scope field left None matches any value, or with
        `exact_scope` only facts without one (an agent's context never sees other users')."""
        if not query.strip():
            raise InvalidInput("query is empty", field="query")
        if len(query) > MAX_QUERY_CHARS:
            raise LimitExceeded(f"query is at most {MAX_QUERY_CHARS} characters", field="query")
        if not 1 <= limit <= 100:
            raise InvalidInput("limit must be 1 to 100", field="limit")
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise InvalidInput("threshold is a cosine similarity, -1 to 1", field="threshold")
        compiled = filters_.compile_filters(filters)
        now = self.clock()
        validity = Validity(None if as_of is None else slots.aware(as_of), include_history)
        conditions = [
            *scope_conditions(tenant, scope, exact_scope),
            *validity.conditions(now),
            *compiled.sql,
        ]
        fields = scope_fields(scope, exact_scope) | compiled.vectors
        with Session(self.engine, expire_on_commit=False) as session:
            return self.searcher.search(
                session,
                self.embedder(),
                tenant,
                query,
                conditions,
                fields,
                limit=limit,
                now=now,
                threshold=threshold,
            )

    def list_(
        self,
        tenant: str,
        scope: Scope = NO_SCOPE,
        *,
        filters: dict[str, Any] | None = None,
        as_of: datetime | None = None,
        include_history: bool = False,
        limit: int = 50,
        after: int | None = None,
        exact_scope: bool = False,
    ) -> list[Fact]:
        """Facts in id order (a cursor is the last id seen), valid now unless asked otherwise."""
        compiled = filters_.compile_filters(filters)
        validity = Validity(None if as_of is None else slots.aware(as_of), include_history)
        query = select(Fact).where(
            *scope_conditions(tenant, scope, exact_scope),
            *validity.conditions(self.clock()),
            *compiled.sql,
        )
        if after is not None:
            query = query.where(col(Fact.id) > after)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(query.order_by(col(Fact.id)).limit(limit)))

    def few(
        self,
        tenant: str,
        query: str,
        scope: Scope,
        *,
        most: int,
        whole: Callable[[list[Brief]], bool] = lambda _rows: True,
    ) -> list[Brief] | None:
        """Every fact true now in exactly this scope, best first for `query`, if there are at
        most `most`; None for more. When the caller can take them `whole`, those sharing the
        query's words come first, then the newest: no query embedding. Otherwise they are
        ranked by words and meaning, fused as `search` fuses them, from the rows read here (the
        query's embedding beside the keyword ranking, done in memory over these rows): one read
        instead of a search's four, and none of the table's keyword index. A scope that did not
        fit last time starts the embedding before the read (`spilled`)."""
        now = self.clock()
        conditions = [*scope_conditions(tenant, scope, exact=True), *Validity().conditions(now)]
        key = (tenant, scope)

        def embedding() -> Future[np.ndarray]:
            return self.searcher.pool.submit(self.embedder().embed, [query])

        vector = embedding() if self.spilled.use(key)[0] else None
        with Session(self.engine) as session:
            found = session.execute(
                select(Fact.id, Fact.text, Fact.kind)
                .add_columns(col(Fact.valid_at), col(Fact.vector))
                .where(*conditions)
                .order_by(col(Fact.valid_at).desc())
                .limit(most + 1)
            ).all()
        rows = [Brief(*row) for row in found] if len(found) <= most else None
        needed = rows is not None and bool(rows) and not whole(rows)
        if vector is not None and not needed:  # the scope fits now, grew past a few, or emptied
            vector.cancel()
            self.spilled.forget(key)
            vector = None
        elif needed and vector is None:
            self.spilled.put(key, None)
            vector = embedding()
        if not rows:
            return rows  # None: more than a few; []: none
        words = keywords.rank_few(query, [(r.id, r.text) for r in rows])
        if vector is not None:
            return self.searcher.rank(rows, words, vector.result()[0], query, now)
        place = {id_: n for n, id_ in enumerate(words)}
        return sorted(rows, key=lambda r: place.get(r.id, len(place)))

    def get(self, tenant: str, fact_id: int) -> Fact:
        with Session(self.engine, expire_on_commit=False) as session:
            return _get(session, tenant, fact_id)

    def history(self, tenant: str, fact_id: int) -> list[FactEvent]:
        with Session(self.engine, expire_on_commit=False) as session:
            _get(session, tenant, fact_id)
            query = select(FactEvent).where(FactEvent.fact_id == fact_id)
            return list(session.exec(query.order_by(col(FactEvent.id))))

    def counts(self, tenant: str | None = None) -> dict[str, int]:
        """Facts kept, current now, waiting for the index, and expired awaiting the sweep."""
        now = self.clock()
        with Session(self.engine) as session:

            def count(*where: Any) -> int:
                query = select(func.count()).select_from(Fact).where(*where)
                if tenant is not None:
                    query = query.where(Fact.tenant_id == tenant)
                return int(session.exec(query).one())

            return {
                "facts": count(),
                "current": count(*Validity().conditions(now)),
                "pending_index": count(col(Fact.indexed).is_(False), col(Fact.vector).is_not(None)),
                "expired": count(col(Fact.expires_at) <= now),
            }

    # -- changing and forgetting ------------------------------------------------------------

    def patch(self, tenant: str, fact_id: int, patch: FactPatch, *, actor: str = "api") -> Fact:
        """Correct a fact in place (its history keeps the old value)."""
        if patch.metadata is not None:
            slots.check_metadata(patch.metadata)
        embedder = self.embedder()
        with transaction(self.engine) as session:
            row = _get(session, tenant, fact_id)
            if row.retired == Retired.DELETED:
                raise InvalidInput("this fact was deleted; write a new one", field="id")
            old = row.value or row.text
            changed: dict[str, Any] = {}
            if patch.value is not None and patch.value.strip() != row.value:
                if not patch.value.strip():
                    raise InvalidInput("value is empty", field="value")
                row.value = patch.value.strip()
                row.value_key = slots.value_key(row.value)
                if patch.text is None:
                    row.text = (
                        slots.statement(row.subject, row.attribute, row.value)
                        if row.attribute
                        else row.value
                    )
                changed["value"] = row.value
            if patch.text is not None and patch.text.strip() != row.text:
                check = FactInput(text=patch.text)
                slots.check(check)
                row.text = patch.text.strip()
                if not row.attribute:
                    row.value, row.value_key = row.text, slots.value_key(row.text)
                changed["text"] = row.text
            if patch.kind is not None:
                row.kind = slots.kind_of(patch.kind)
                changed["kind"] = row.kind
            if patch.metadata is not None:
                row.meta = dict(patch.metadata)
                changed["metadata"] = row.meta
            if patch.expires_at is not None or patch.clear_expiry:
                row.expires_at = None if patch.clear_expiry else slots.aware(patch.expires_at)  # type: ignore[arg-type]
                changed["expires_at"] = (
                    None if row.expires_at is None else row.expires_at.isoformat()
                )
            if not changed:
                return row
            if "text" in changed or "value" in changed:
                vector = embedder.embed([row.text])[0]
                row.vector = np.asarray(vector, dtype=np.float32).tobytes()
                row.indexed = False
            row.updated_at = self.clock()
            session.add(row)
            session.add(
                FactEvent(
                    fact_id=fact_id,
                    event=FactEventKind.UPDATED,
                    old_value=old,
                    new_value=row.value or row.text,
                    actor=actor,
                    data={"changed": sorted(changed)},
                )
            )
        if not row.indexed:
            self.vectors.upsert(tenant, [row])
        return row

    def delete(
        self, tenant: str, fact_id: int, *, purge: bool = False, actor: str = "api"
    ) -> dict[str, Any]:
        """Retire a fact (history kept), or with `purge` erase its text, vectors and the values
        its history held, keeping only that it existed; returns what was erased."""
        now = self.clock()
        with transaction(self.engine) as session:
            row = _get(session, tenant, fact_id)
            if not purge:
                if row.retired != Retired.DELETED:
                    row.retired = Retired.DELETED
                    row.expired_at = row.expired_at or now
                    row.invalid_at = row.invalid_at or now
                    row.updated_at = now
                    session.add(row)
                    rules.event(
                        session, row, FactEventKind.DELETED, actor, old_value=row.value or row.text
                    )
                return {"id": fact_id, "deleted": True, "purged": False}
            events = _erase(session, row, actor, now)
        self.vectors.remove(tenant, fact_id)
        return {
            "id": fact_id,
            "deleted": True,
            "purged": True,
            "erased": {"text": True, "vectors": True, "history_events": events},
        }

    def expire(self, limit: int = 1000) -> int:
        """Purge facts past their lifetime (rows, history and vectors); returns how many."""
        now = self.clock()
        with transaction(self.engine) as session:
            rows = list(
                session.exec(
                    select(Fact.id, Fact.tenant_id)
                    .where(col(Fact.expires_at) <= now)
                    .order_by(col(Fact.id))
                    .limit(limit)
                )
            )
            gone = [(int(i), t) for i, t in rows if i is not None]
            ids = [i for i, _t in gone]
            if ids:
                session.exec(delete(FactEvent).where(col(FactEvent.fact_id).in_(ids)))
                session.exec(delete(Fact).where(col(Fact.id).in_(ids)))
        for fact_id, tenant in gone:
            try:
                self.vectors.remove(tenant, fact_id)
            except Exception:  # its vectors now point at no row: harmless, never returned
                log.warning("could not remove the vectors of expired fact %s", fact_id)
        return len(gone)


def status_of(fact: Fact, now: datetime) -> str:
    """current, future, past (closed by time), superseded, negated, deleted or expired."""
    if fact.retired == "deleted":
        return "deleted"
    if fact.expires_at is not None and slots.aware(fact.expires_at) <= now:
        return "expired"
    if slots.aware(fact.valid_at) > now:
        return "future"
    if fact.invalid_at is not None and slots.aware(fact.invalid_at) <= now:
        return fact.retired or "past"
    return "current"


def _erase(session: Session, row: Fact, actor: str, now: datetime) -> int:
    erased = 0
    for past in session.exec(select(FactEvent).where(FactEvent.fact_id == row.id)):
        past.old_value = None
        past.new_value = None
        past.data = {}
        session.add(past)
        erased += 1
    row.text = ""
    row.subject = row.subject_key = ""
    row.value = row.value_key = ""
    row.attribute = ""
    row.evidence = []
    row.meta = {}
    row.vector = None
    row.indexed = True  # nothing left to index
    row.retired = Retired.DELETED
    row.expired_at = row.expired_at or now
    row.invalid_at = row.invalid_at or now
    row.updated_at = now
    session.add(row)
    rules.event(session, row, FactEventKind.PURGED, actor, data={"history_events": erased})
    return erased


def _record(result: WriteResult, index: int, placed: rules.Placed) -> None:
    if placed.outcome == "added" and placed.fact is not None:
        result.added.append(placed.fact)
    elif placed.outcome == "merged" and placed.fact is not None:
        result.merged.append(placed.fact)
    elif placed.outcome == "negated" and placed.fact is not None:
        result.negated += [placed.fact, *placed.superseded]
        return
    else:
        result.unchanged.append((index, placed.note))
    for old in placed.superseded:
        result.superseded.append((old, int(old.superseded_by or 0)))


def _near(a: Fact, b: Fact) -> bool:
    """One fact said twice: statements this close in meaning, with the same names, numbers
    and labels (slots.anchors)."""
    if a.vector is None or b.vector is None or slots.anchors(a.text) != slots.anchors(b.text):
        return False
    left = np.frombuffer(a.vector, dtype=np.float32)
    right = np.frombuffer(b.vector, dtype=np.float32)
    return float(left @ right) >= rules.NEAR


def _get(session: Session, tenant: str, fact_id: int) -> Fact:
    row = session.get(Fact, fact_id)
    if row is None or row.tenant_id != tenant:
        raise NotFound(f"fact {fact_id} not found")
    return row


def _check_agent(session: Session, tenant: str, agent_id: str) -> None:
    """The agent exists in this tenant; it has facts from now on (its turns look for them)."""
    agent = session.get(Agent, agent_id)
    if agent is None or agent.tenant_id != tenant:
        raise NotFound(f"agent {agent_id!r} not found")
    if not agent.has_facts:
        agent.has_facts = True


def _lock_slot(session: Session, row: Fact) -> None:
    """Two writes to one slot at once would each see the other's value missing: on PostgreSQL
    they take the slot's advisory lock (till commit); SQLite's writes are serial already."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = "\x1f".join(
        [
            row.tenant_id,
            row.user_id or "",
            row.agent_id or "",
            row.run_id or "",
            row.subject_key,
            row.attribute,
        ]
    )
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=number))  # type: ignore[call-overload]
