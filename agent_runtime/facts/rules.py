"""The rules that place a new fact among the facts of its slot. Deterministic code, no model:
what a model proposes (issue: automatic memory) goes through the same rules.

- A single-valued slot's newer value closes the one before it (`invalid_at` = the new
  `valid_at`, `expired_at` = now). Nothing is deleted. A value that arrives late (older than the
  current one) is filed as past, closed by the value that followed it.
- A many-valued slot's values never retire each other; a negation ("no longer likes sushi")
  retires the value it names.
- The same value again, or a near duplicate (cosine of the statements >= `NEAR`), merges into
  the fact that holds it: more evidence, one row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from agent_runtime.core.limits import MAX_EVIDENCE
from agent_runtime.core.vocabulary import Cardinality, FactEventKind, Retired
from agent_runtime.core.words import STOP_WORDS, WORD
from agent_runtime.storage.tables import Fact, FactEvent

# Statements at least this close are one fact said twice (bench/facts.py --near measures it:
# no two values of a slot in the generated world come this close, while rewordings do).
NEAR = 0.93

Near = Callable[[Fact, Fact], bool]


@dataclass
class Placed:
    """What one incoming fact did."""

    outcome: str  # added, merged, negated or unchanged
    fact: Fact | None  # the new row, the row it merged into, or the row it negated
    superseded: list[Fact] = field(default_factory=list)  # rows it (or its arrival) closed
    note: str = ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def holds_at(row: Fact, moment: datetime) -> bool:
    """Whether `row` was true at `moment` in world time."""
    start = _aware(row.valid_at)
    end = None if row.invalid_at is None else _aware(row.invalid_at)
    return start <= moment and (end is None or moment < end)


def slot(session: Session, new: Fact, neighbours: set[int] | None = None) -> list[Fact]:
    """The facts sharing `new`'s slot (same scope, subject and attribute) that are part of its
    timeline: every one but the deleted and the expired, oldest first. A free statement's
    "slot" is every free statement of its subject, so of those only the ones that may say the
    same are read: the same text, or `neighbours` (ids near it in the vector index)."""
    query = select(Fact).where(
        Fact.tenant_id == new.tenant_id,
        Fact.subject_key == new.subject_key,
        Fact.attribute == new.attribute,
        col(Fact.user_id).is_(None) if new.user_id is None else Fact.user_id == new.user_id,
        col(Fact.agent_id).is_(None) if new.agent_id is None else Fact.agent_id == new.agent_id,
        col(Fact.run_id).is_(None) if new.run_id is None else Fact.run_id == new.run_id,
        (col(Fact.retired).is_(None)) | (Fact.retired != Retired.DELETED),
    )
    if not new.attribute:
        query = query.where(
            (col(Fact.value_key) == new.value_key) | col(Fact.id).in_(sorted(neighbours or ()))
        )
    rows = [
        r
        for r in session.exec(query)
        if r.expires_at is None or _aware(r.expires_at) > _aware(new.created_at)
    ]
    return sorted(rows, key=lambda r: (_aware(r.valid_at), r.id or 0))


def _said_no(rows: list[Fact], new: Fact, at: datetime) -> Fact | None:
    """The earliest recorded negation of `new`'s value after `at`: it ended `new`."""
    later = [
        r
        for r in rows
        if r.retired == Retired.NEGATION
        and r.value_key == new.value_key
        and _aware(r.valid_at) > at
    ]
    return min(later, key=lambda r: _aware(r.valid_at), default=None)


def place(
    session: Session,
    new: Fact,
    *,
    negates: bool,
    near: Near,
    actor: str,
    now: datetime,
    neighbours: set[int] | None = None,
) -> Placed:
    """Apply the rules for `new` (not yet added) against its slot, writing rows and history."""
    everything = slot(session, new, neighbours)
    rows = [r for r in everything if r.retired != Retired.NEGATION]  # the timeline
    at = _aware(new.valid_at)
    same = [r for r in rows if _same(r, new, near)]
    if negates:
        return _negate(session, rows, same, new, at, actor, now)
    ended = _said_no(everything, new, at)
    if not new.attribute or new.cardinality == Cardinality.MANY:
        # A value holding at `at`, or starting later (it was true earlier than we knew).
        match = next((r for r in same if holds_at(r, at) or _aware(r.valid_at) > at), None)
        if match is not None:
            return _merge(session, match, new, at, actor, now)
        placed = _add(session, new, actor)
        if ended is not None:  # a "no longer" heard before it: it was true until then
            _close(session, new, None, _aware(ended.valid_at), Retired.NEGATED, actor, now)
            placed.note = "a negation heard earlier ends it"
        return placed
    return _single(session, rows, new, at, near, actor, now)


def _single(
    session: Session,
    rows: list[Fact],
    new: Fact,
    at: datetime,
    near: Near,
    actor: str,
    now: datetime,
) -> Placed:
    holding = [r for r in rows if holds_at(r, at)]
    before = holding[-1] if holding else None
    after = next((r for r in rows if _aware(r.valid_at) > at), None)
    if before is not None and _same(before, new, near):
        return _merge(session, before, new, at, actor, now)
    if after is not None and _same(after, new, near):
        # The next value was already true at `at`: it starts earlier, closing the one before.
        placed = _merge(session, after, new, at, actor, now)
        if before is not None:
            _close(session, before, after, at, Retired.SUPERSEDED, actor, now)
            placed.superseded.append(before)
        return placed
    placed = _add(session, new, actor)
    if after is not None:  # it arrived late: it was true until the value that followed it
        new.invalid_at = after.valid_at
        new.expired_at = now
        new.retired = Retired.SUPERSEDED
        new.superseded_by = after.id
        session.add(new)
        placed.note = "arrived late: filed as past"
    if before is not None:
        again = _heard_again(session, before, at, new.invalid_at)
        if again is not None:  # `before` was said again after `at`: it came back then
            _reopen(session, before, again, actor, now)
            new.invalid_at = again
            new.expired_at = now
            new.retired = Retired.SUPERSEDED
            session.add(new)
        _close(session, before, new, at, Retired.SUPERSEDED, actor, now)
        placed.superseded.append(before)
    return placed


def _heard_again(
    session: Session, row: Fact, at: datetime, until: datetime | None
) -> datetime | None:
    """The first time `row`'s value was said again after `at` (and before `until`): merges
    keep when each was heard, so a value arriving late between two sayings splits the row."""
    times = []
    for past in session.exec(
        select(FactEvent).where(
            FactEvent.fact_id == row.id, FactEvent.event == FactEventKind.MERGED
        )
    ):
        heard = past.data.get("heard_at")
        if isinstance(heard, str):
            moment = _aware(datetime.fromisoformat(heard))
            if moment > at and (until is None or moment < until):
                times.append(moment)
    return min(times, default=None)


def _reopen(session: Session, row: Fact, at: datetime, actor: str, now: datetime) -> None:
    """`row`'s value again from `at`, to where `row` ended: a row of its own."""
    again = Fact(
        **{
            k: getattr(row, k)
            for k in (
                "tenant_id",
                "user_id",
                "agent_id",
                "run_id",
                "text",
                "subject",
                "subject_key",
                "attribute",
                "value",
                "value_key",
                "kind",
                "cardinality",
                "invalid_at",
                "expired_at",
                "retired",
                "superseded_by",
                "expires_at",
                "evidence",
                "evidence_count",
                "meta",
                "vector",
            )
        },
        valid_at=at,
        created_at=now,
        updated_at=now,
    )
    session.add(again)
    session.flush()
    event(
        session,
        again,
        FactEventKind.ADDED,
        actor,
        new_value=again.value,
        data={"said_again_after": row.id},
    )


def _negate(
    session: Session,
    rows: list[Fact],
    same: list[Fact],
    new: Fact,
    at: datetime,
    actor: str,
    now: datetime,
) -> Placed:
    """Retire what the negation names: the values it matches that hold at its time (for a
    single-valued slot without a value, whatever value holds)."""
    if new.value_key or new.cardinality == Cardinality.MANY:
        targets = [r for r in same if holds_at(r, at)]
    else:
        targets = [r for r in rows if holds_at(r, at)]
    if not targets:
        # Kept, never true itself: the value it names may yet arrive, dated before it.
        new.invalid_at = new.valid_at
        new.expired_at = now
        new.retired = Retired.NEGATION
        session.add(new)
        session.flush()
        event(session, new, FactEventKind.NEGATED, actor, old_value=new.value or new.text)
        return Placed("unchanged", None, note="nothing held then to negate; kept for later")
    for row in targets:
        _close(session, row, None, at, Retired.NEGATED, actor, now, evidence=new.evidence)
    return Placed("negated", targets[0], superseded=targets[1:])


def _add(session: Session, new: Fact, actor: str) -> Placed:
    session.add(new)
    session.flush()
    event(session, new, FactEventKind.ADDED, actor, new_value=new.value or new.text)
    return Placed("added", new)


def _merge(
    session: Session, row: Fact, new: Fact, at: datetime, actor: str, now: datetime
) -> Placed:
    """`new` says what `row` says: the row gains its evidence, and starts earlier if `new` does."""
    data: dict[str, Any] = {"evidence": list(new.evidence), "heard_at": at.isoformat()}
    row.evidence = _more_evidence(row.evidence, new.evidence)
    row.evidence_count += max(len(new.evidence), 1)
    if at < _aware(row.valid_at):
        data["valid_at"] = {"from": _aware(row.valid_at).isoformat(), "to": at.isoformat()}
        row.valid_at = at
    if new.expires_at is None or (
        row.expires_at is not None and _aware(new.expires_at) > _aware(row.expires_at)
    ):
        row.expires_at = new.expires_at  # the longer lifetime wins
    row.meta = {**row.meta, **new.meta}
    row.updated_at = now
    session.add(row)
    event(session, row, FactEventKind.MERGED, actor, data=data)
    return Placed("merged", row)


def _close(
    session: Session,
    row: Fact,
    by: Fact | None,
    at: datetime,
    why: Retired,
    actor: str,
    now: datetime,
    evidence: list[str] | None = None,
) -> None:
    """End `row`'s truth at `at`. A row closed for the first time leaves the present record."""
    was = row.invalid_at
    row.invalid_at = at
    if row.expired_at is None:
        row.expired_at = now
    row.retired = why
    if by is not None:
        row.superseded_by = by.id
    row.updated_at = now
    session.add(row)
    kind = FactEventKind.SUPERSEDED if why == Retired.SUPERSEDED else FactEventKind.NEGATED
    data: dict[str, Any] = {
        "invalid_at": at.isoformat(),
        "was_invalid_at": None if was is None else _aware(was).isoformat(),
    }
    if by is not None:
        data["by"] = by.id
    if evidence:
        data["evidence"] = evidence
    event(
        session,
        row,
        kind,
        actor,
        old_value=row.value or row.text,
        new_value=None if by is None else by.value or by.text,
        data=data,
    )


def _same(row: Fact, new: Fact, near: Near) -> bool:
    """The same value: said the same way, or for a free statement a near duplicate. In a slot
    the value is the fact ("software engineer" and "senior software engineer" are two jobs,
    however close the statements), so only its words decide, in any order."""
    if row.value_key == new.value_key:
        return True
    if row.attribute:
        return _words(row.value_key) == _words(new.value_key)
    return near(row, new)


def _words(value: str) -> frozenset[str]:
    return frozenset(w for w in WORD.findall(value) if w not in STOP_WORDS)


def _more_evidence(have: list[str], more: list[str]) -> list[str]:
    out = list(have)
    for item in more:
        if item not in out:
            out.append(item)
    return out[:MAX_EVIDENCE]


def event(
    session: Session,
    row: Fact,
    kind: FactEventKind,
    actor: str,
    *,
    old_value: str | None = None,
    new_value: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    assert row.id is not None
    session.add(
        FactEvent(
            fact_id=row.id,
            event=kind,
            old_value=old_value,
            new_value=new_value,
            actor=actor,
            data=data or {},
        )
    )
