"""Ranking by meaning in agent_runtime/facts/search.py."""

from __future__ import annotations

import numpy as np

from agent_runtime.facts.search import centred, mean_of


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
