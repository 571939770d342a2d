"""The real Chroma index and the in-memory fake answer the protocol alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent_runtime.retrieval.vector_index import ChromaIndex, MemoryIndex, Space, VectorIndex

COL = Space("agent-1", "passage", "fake", 3)


@pytest.fixture(params=["chroma", "memory"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> VectorIndex:
    return ChromaIndex(path=tmp_path / "chroma") if request.param == "chroma" else MemoryIndex()


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_vectors_are_deleted_and_ids_are_listed(index: VectorIndex) -> None:
    vectors = np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 1, 0), unit(0, 0, 1)])
    metas = [{"ts": 1}, {"ts": 1}, {"ts": 2}, {"ts": 3}]
    index.upsert(COL, ["p:7", "p:7:1", "p:8", "p:9"], vectors, metas)  # type: ignore[arg-type]
    assert sorted(index.ids(COL)) == ["p:7", "p:7:1", "p:8", "p:9"]
    index.delete(COL, ["p:7", "p:7:1", "p:9", "p:9:3"])  # missing ids are fine
    assert index.ids(COL) == ["p:8"]
    assert [h.id for h in index.query(COL, unit(1, 0, 0), 5, None)] == ["p:8"]
    assert index.ids(Space("a", "passage", "fake", 3)) == [] and index.healthy()


def test_both_indexes_apply_our_filter_alike(index: VectorIndex) -> None:
    from agent_runtime.retrieval.vector_index import VectorFilter

    vectors = np.stack([unit(1, 0, 0), unit(1, 0.1, 0), unit(1, 0.2, 0)])
    metas = [
        {"ts": 10, "row": 1, "role": "user"},
        {"ts": 20, "row": 2, "role": "assistant"},
        {"ts": 30, "row": 3, "role": "user"},
    ]
    index.upsert(COL, ["m:1", "m:2", "m:3"], vectors, metas)  # type: ignore[arg-type]
    near = unit(1, 0, 0)
    assert [h.id for h in index.query(COL, near, 5, VectorFilter(start=15))] == ["m:2", "m:3"]
    assert [h.id for h in index.query(COL, near, 5, VectorFilter(end=20))] == ["m:1", "m:2"]
    users = index.query(COL, near, 5, VectorFilter(roles=("user",), start=20))
    assert [h.id for h in users] == ["m:3"]
    assert len(index.query(COL, near, 5, VectorFilter())) == 3
