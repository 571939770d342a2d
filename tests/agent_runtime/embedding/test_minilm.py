from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

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
