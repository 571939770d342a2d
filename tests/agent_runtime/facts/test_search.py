"""Ranking by meaning (agent_runtime/facts/centres.py and search.py)."""

from __future__ import annotations

import numpy as np
import pytest

from agent_runtime.core.specs import FactInput, Scope
from agent_runtime.facts import search as search_
from agent_runtime.facts.centres import REUSE, centred, mean_of
from agent_runtime.runtime import Runtime


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_meaning_is_measured_from_the_mean_of_the_scope() -> None:
    # Five facts close to the direction every vector shares, one about the query's topic.
    common = [unit(1, 0.1 * n, 0, 0.1) for n in range(5)]
    on_topic = unit(0.6, 0, 0.8, 0)
    rows = [(n + 1, v.tobytes()) for n, v in enumerate(common)] + [(9, on_topic.tobytes())]
    query = unit(0.95, 0, 0.3, 0)

    assert centred(query, rows, None)[0] != 9  # raw cosines favour the common direction
    assert centred(query, rows, mean_of(v for _i, v in rows))[0] == 9


def test_ties_and_missing_vectors() -> None:
    same = unit(1, 0).tobytes()
    assert centred(unit(1, 0), [(3, same), (2, same), (4, None), (None, same)], None) == [2, 3]
    assert centred(unit(1, 0), [], None) == []
    assert mean_of([None]) is None


def test_a_large_scope_keeps_its_centre_between_searches(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_, "SMALL", 3)  # five facts make a large scope
    facts = [FactInput(text=f"Ada keeps bee hive number {n}") for n in range(5)]
    runtime.facts.write("default", facts)
    searcher = runtime.facts.searcher
    samples = []
    read = searcher._sample
    monkeypatch.setattr(searcher, "_sample", lambda *a: samples.append(1) or read(*a))
    first = [h.fact.id for h in runtime.facts.search("default", "bee hive", limit=3)]
    for _ in range(REUSE):
        assert [h.fact.id for h in runtime.facts.search("default", "bee hive", limit=3)] == first
    assert len(samples) == 1  # `REUSE` searches used the first one's centre
    runtime.facts.search("default", "bee hive", limit=3)
    assert len(samples) == 2
    runtime.facts.search("default", "bee hive", Scope(user_id="ada"), limit=3)
    assert len(samples) == 3  # another scope has its own centre
