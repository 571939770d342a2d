from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from agent_runtime.embedding import minilm
from agent_runtime.embedding.minilm import MAX_TOKENS, MiniLMEmbedder

REFERENCE = Path(__file__).parents[2] / "data" / "minilm_reference.json"


@cache
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_matches_sentence_transformers_reference_vectors() -> None:
    reference = json.loads(REFERENCE.read_text())
    ours = embedder().embed(reference["texts"])
    theirs = np.asarray(reference["vectors"], dtype=np.float32)
    cosines = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() >= 0.999, dict(zip(reference["texts"], cosines.round(5), strict=True))
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_results() -> None:
    texts = ["short", "a somewhat longer sentence about boats and harbours", "mid length text"]
    together = embedder().embed(texts)
    alone = np.vstack([embedder().embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_long_texts_are_windowed_not_truncated() -> None:
    head = "The meeting covered budgets and hiring plans for the next quarter. " * 40
    tail = "Finally everyone agreed to adopt a pet octopus named Inky for the office aquarium."
    tokens = len(embedder()._tokenizer.encode(head + tail).ids)
    assert tokens > MAX_TOKENS + 100
    whole = embedder().embed([head + tail])[0]
    truncated = embedder().embed([head])[0]
    octopus = embedder().embed(["a pet octopus named Inky in the office aquarium"])[0]
    # the tail beyond the first window still moves the vector towards its meaning
    assert float(whole @ octopus) > float(truncated @ octopus)
    assert abs(float(np.linalg.norm(whole)) - 1.0) < 1e-5


def test_empty_input_gives_an_empty_matrix() -> None:
    assert embedder().embed([]).shape == (0, 384)


def test_the_built_graph_is_kept_and_loaded_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["the boat is moored at pier 7", "a cello in the evening"]
    first = MiniLMEmbedder(cache_dir=tmp_path)
    vectors = first.embed(texts)
    kept = minilm.graph_file(first._weights_path, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]  # no partial file left behind

    def no_build(_path: Path) -> None:
        raise AssertionError("the graph was built again")

    monkeypatch.setattr(minilm, "build_graph", no_build)
    again = MiniLMEmbedder(cache_dir=tmp_path).embed(texts)
    assert np.allclose(again, vectors, atol=1e-6)


def test_a_damaged_kept_graph_is_built_again_and_replaced(tmp_path: Path) -> None:
    texts = ["the boat is moored at pier 7"]
    reference = embedder().embed(texts)
    weights = minilm.model_dir() / "model.safetensors"
    kept = minilm.graph_file(weights, tmp_path)
    stale = tmp_path / "minilm-0000000000000000.onnx"  # an older GRAPH_VERSION's
    stale.write_bytes(b"old")
    kept.write_bytes(b"not an onnx graph")  # a write cut short
    assert np.allclose(MiniLMEmbedder(cache_dir=tmp_path).embed(texts), reference, atol=1e-6)
    assert kept.stat().st_size > 1_000_000 and not stale.exists()
    assert np.allclose(MiniLMEmbedder(cache_dir=tmp_path).embed(texts), reference, atol=1e-6)
