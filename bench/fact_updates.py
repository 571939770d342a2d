"""Knowledge updates: the world written as slot facts, then asked and checked against it
(bench/facts.py --updates)."""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fact_runtime import TENANT, runtime_in
from fact_world import ASKED, LAST_DAY, SINGLE, Event, arrival, holding, values_now, world

from agent_runtime.facts import rules, slots
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Fact


@dataclass
class Tally:
    """What the knowledge-update questions found, and every wrong answer with its cause."""

    current: int = 0
    as_of: int = 0
    asked_current: int = 0
    asked_as_of: int = 0
    stale: int = 0
    retired: int = 0
    kept: int = 0
    lists: int = 0

    def __post_init__(self) -> None:
        self.wrong: dict[str, list[dict]] = defaultdict(list)


def updates(subjects: int, seed: int) -> dict:
    rng = random.Random(seed)
    events = world(rng, subjects)
    heard, inverted = arrival(rng, events)
    by_slot: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in heard:  # in the order memory heard them
        by_slot[(event.subject, event.attribute)].append(event)
    tally = Tally()
    outcome: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        runtime = runtime_in(Path(home))
        for offset in range(0, len(heard), 100):
            result = runtime.facts.write(TENANT, [e.fact() for e in heard[offset : offset + 100]])
            outcome.update(
                added=len(result.added),
                merged=len(result.merged),
                superseded=len(result.superseded),
                negated=len(result.negated),
                unchanged=len(result.unchanged),
            )
        loaded = time.perf_counter() - started
        for (subject, attribute), slot_events in by_slot.items():
            if attribute in SINGLE:
                ask_single(runtime, rng, subject, attribute, slot_events, tally)
            else:
                ask_many(runtime, subject, attribute, slot_events, tally)
        runtime.close()
    causes = {name: dict(Counter(c["cause"] for c in cases)) for name, cases in tally.wrong.items()}
    return {
        "subjects": subjects,
        "seed": seed,
        "near": rules.NEAR,
        "facts_written": len(heard),
        "arrived_after_a_later_value_of_their_slot": inverted,
        "negations": sum(e.negates for e in events),
        "outcomes": dict(outcome),
        "load_seconds": round(loaded, 1),
        "current_accuracy@1": round(tally.current / tally.asked_current, 4),
        "as_of_accuracy@1": round(tally.as_of / tally.asked_as_of, 4),
        "stale_in_top5": tally.stale,
        "many_valued_wrongly_retired": tally.retired,
        "many_valued_wrongly_kept": tally.kept,
        "questions": {
            "current": tally.asked_current,
            "as_of": tally.asked_as_of,
            "lists": tally.lists,
        },
        "causes": causes,
        "wrong": {name: cases[:100] for name, cases in tally.wrong.items()},
    }


def ask_single(
    runtime: Runtime,
    rng: random.Random,
    subject: str,
    attribute: str,
    slot_events: list[Event],
    tally: Tally,
) -> None:
    """Its value now and at two dates after it was first known, searched as a client would."""
    only = {"subject": subject, "attribute": attribute}
    question = ASKED[attribute].format(subject)
    first = min(e.at for e in slot_events)
    dates = [None] + [
        first + timedelta(days=rng.randrange((LAST_DAY - first).days)) for _ in range(2)
    ]
    for when in dates:
        truth = holding(slot_events, when or datetime.now(UTC))
        hits = runtime.facts.search(TENANT, question, filters=only, as_of=when, limit=5)
        got = [h.fact.value for h in hits]
        tally.stale += sum(slots.value_key(v) != slots.value_key(truth or "") for v in got)
        right = bool(got) and slots.value_key(got[0]) == slots.value_key(truth or "")
        if when is None:
            tally.asked_current += 1
            tally.current += right
        else:
            tally.asked_as_of += 1
            tally.as_of += right
        if not right:
            rows = runtime.facts.list_(TENANT, filters=only, include_history=True, limit=100)
            tally.wrong["current" if when is None else "as_of"].append(
                {
                    **_case(subject, attribute, truth, got, slot_events, rows),
                    "as_of": None if when is None else when.date().isoformat(),
                    "cause": _single_cause(rows, slot_events),
                }
            )


def _single_cause(rows: Sequence[Fact], slot_events: list[Event]) -> str:
    """Rows of a value holding more statements than that value was heard took in other values
    (merged as near duplicates); otherwise the rules placed the values wrongly in time."""
    heard = Counter(slots.value_key(e.value) for e in slot_events)
    kept: Counter[str] = Counter()
    for row in rows:
        kept[row.value_key] += row.evidence_count
    if any(count > heard[key] for key, count in kept.items()):
        return "another value merged into a row as a near duplicate"
    return "the timeline was built wrong"


def ask_many(
    runtime: Runtime, subject: str, attribute: str, slot_events: list[Event], tally: Tally
) -> None:
    """Every value it holds now, listed with filters."""
    only = {"subject": subject, "attribute": attribute}
    tally.lists += 1
    listed = {f.value for f in runtime.facts.list_(TENANT, filters=only, limit=100)}
    truth = values_now(slot_events)
    missing, extra = truth - listed, listed - truth
    tally.retired += len(missing)
    tally.kept += len(extra)
    if not (missing or extra):
        return
    rows = runtime.facts.list_(TENANT, filters=only, include_history=True, limit=100)
    kept_values = {r.value for r in rows}
    for value in sorted(missing):
        cause = "negated" if value in kept_values else "merged as a near duplicate"
        tally.wrong["many_retired"].append(
            {**_case(subject, attribute, value, sorted(listed), slot_events, rows), "cause": cause}
        )
    for value in sorted(extra):
        order = [e.negates for e in slot_events if e.value == value]
        cause = (
            "its negation arrived before it" if order[:1] == [True] else "a negation did not apply"
        )
        tally.wrong["many_kept"].append(
            {**_case(subject, attribute, value, sorted(listed), slot_events, rows), "cause": cause}
        )


def _case(
    subject: str,
    attribute: str,
    truth: object,
    got: object,
    slot_events: list[Event],
    rows: Sequence[Fact],
) -> dict:
    """A wrong answer: what was asked, what came back, what memory heard in what order, and
    the rows it kept (value, from, to, why retired)."""
    return {
        "subject": subject,
        "attribute": attribute,
        "truth": truth,
        "got": got,
        "heard": [f"{'not ' if e.negates else ''}{e.value} @ {e.at.date()}" for e in slot_events],
        "rows": [
            f"{r.value} [{r.valid_at.date()}, {r.invalid_at.date() if r.invalid_at else ''}) "
            f"{r.retired or 'current'} x{r.evidence_count}"
            for r in sorted(rows, key=lambda r: r.valid_at)
        ],
    }


def print_updates(out: dict) -> None:
    for key, value in out.items():
        if key != "wrong":
            print(f"{key}: {value}")
    for name, cases in out["wrong"].items():
        for case in cases[:3]:
            print(f"  {name}: {json.dumps(case)}")
