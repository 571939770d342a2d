"""The real Chroma index and the in-memory fake answer the protocol alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent_runtime.vector_index import ChromaIndex, MemoryIndex, VectorIndex


@pytest.fixture(params=["chroma", "memory"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> VectorIndex:
    return ChromaIndex(path=tmp_path / "chroma") if request.param == "chroma" else MemoryIndex()


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_rows_are_deleted_with_every_part_and_ids_are_listed(index: VectorIndex) -> None:
    vectors = np.stack([unit(1, 0, 0), unit(1, 1, 0), unit(0, 1, 0), unit(0, 0, 1)])
    metas = [{"ts": 1, "row": 7}, {"ts": 1, "row": 7}, {"ts": 2, "row": 8}, {"ts": 3, "row": 9}]
    index.upsert("col", ["p:7", "p:7:1", "p:8", "p:9"], vectors, metas)  # type: ignore[arg-type]
    assert sorted(index.ids("col")) == ["p:7", "p:7:1", "p:8", "p:9"]
    index.delete_rows("col", [7, 9])
    assert index.ids("col") == ["p:8"]
    assert [h.id for h in index.query("col", unit(1, 0, 0), 5, None)] == ["p:8"]
    assert index.ids("missing") == [] and index.healthy()
