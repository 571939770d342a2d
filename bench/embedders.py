"""The two CPU paths for all-MiniLM-L6-v2 the runtime could take, measured side by side.

    .venv/bin/python bench/embedders.py

`onnx` is what recalld ships (agent_runtime/embedding/minilm.py). `numpy` is the same BERT
forward pass written with numpy matrix products, kept here only to measure against; both use
the same tokenizer, length batching and weights. Prints texts/s and agreement (cosine).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_runtime.embedding import minilm  # noqa: E402


class NumpyMiniLM(minilm.MiniLMEmbedder):
    """MiniLMEmbedder with the ONNX session swapped for a numpy forward pass."""

    def __init__(self) -> None:
        super().__init__()
        from safetensors.numpy import load_file

        self.w = load_file(str(self._weights_path))
        self.layers = sum(1 for k in self.w if k.endswith("attention.self.query.weight"))

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w

        def norm(x: np.ndarray, p: str) -> np.ndarray:
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            return (x - mu) / np.sqrt(var + minilm.EPS) * w[p + ".weight"] + w[p + ".bias"]

        def dense(x: np.ndarray, p: str) -> np.ndarray:
            return x @ w[p + ".weight"].T + w[p + ".bias"]

        batch, seq = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:seq]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = norm(x, "embeddings.LayerNorm")
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        heads, dim = minilm.HEADS, x.shape[-1] // minilm.HEADS
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3)

            q = split(dense(x, p + ".attention.self.query"))
            k = split(dense(x, p + ".attention.self.key"))
            v = split(dense(x, p + ".attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dim) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, seq, heads * dim)
            x = norm(
                dense(ctx, p + ".attention.output.dense") + x, p + ".attention.output.LayerNorm"
            )
            h = dense(x, p + ".intermediate.dense")
            h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))  # GELU (tanh)
            x = norm(dense(h, p + ".output.dense") + x, p + ".output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)


def texts(n: int = 512) -> list[str]:
    rng = random.Random(3)
    words = [
        "we", "went", "to", "the", "lake", "and", "painted", "a", "sunrise", "then", "talked",
        "about", "the", "kids", "school", "play", "my", "sister", "adopted", "a", "rescue", "dog",
    ]  # fmt: skip
    return [" ".join(rng.choice(words) for _ in range(rng.randint(8, 22))) for _ in range(n)]


def measure(embedder: minilm.MiniLMEmbedder, sample: list[str]) -> float:
    embedder.embed(sample[:16])
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        embedder.embed(sample)
        runs.append(len(sample) / (time.perf_counter() - t))
    return statistics.median(runs)


def main() -> None:
    sample = texts()
    onnx, plain = minilm.MiniLMEmbedder(), NumpyMiniLM()
    a, b = onnx.embed(sample[:64]), plain.embed(sample[:64])
    print(f"agreement: min cosine {float((a * b).sum(1).min()):.5f}")
    print(f"onnx:  {measure(onnx, sample):.0f} texts/s")
    print(f"numpy: {measure(plain, sample):.0f} texts/s")


if __name__ == "__main__":
    main()
