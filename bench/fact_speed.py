"""Fact memory's speed: writes per second and search latency (bench/facts.py --speed)."""

from __future__ import annotations

import json
import platform
import random
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
from fact_retrieval import observations
from fact_runtime import TENANT, runtime_in
from fact_world import ASKED, DAY0, DAYS, FIRST, LAST, LIKES, arrival, world
from sqlmodel import Session, select

from agent_runtime.core.specs import FactInput
from agent_runtime.embedding.minilm import MiniLMEmbedder
from agent_runtime.facts import filters as filters_
from agent_runtime.retrieval.vector_index import Space, VectorFilter
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Fact


def machine() -> str:
    model = subprocess.getoutput("lscpu | sed -n 's/^Model name: *//p'").strip()
    return f"{model or platform.processor()}, {subprocess.getoutput('nproc')} cores"


class KeptVectors:
    """The local embedder, answering from memory for the texts it was told to keep: a search
    then costs what it costs without its query's embedding."""

    name = "local"
    dimension = 384

    def __init__(self, model: MiniLMEmbedder) -> None:
        self.model = model
        self.kept: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1 and texts[0] in self.kept:
            return self.kept[texts[0]][None, :]
        return self.model.embed(texts)

    def keep(self, texts: list[str]) -> None:
        self.kept.update(zip(texts, self.model.embed(texts), strict=True))


def ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 2)


def latency(runtime: Runtime, embedder: KeptVectors, asks: list[tuple[str, dict | None]]) -> dict:
    """Search p50/p95 with the query embedded in the search and with its vector kept (the
    search alone), each query both ways in alternating order so both see the same machine;
    and the embedding alone."""
    facts = runtime.facts
    for question, only in asks[:20]:  # warm: the first query loads the HNSW index
        facts.search(TENANT, question, filters=only, limit=10)
    timings: dict[str, list[float]] = {"total": [], "kept": [], "embedding": []}
    for i, (question, only) in enumerate(asks):
        for way in ("kept", "total") if i % 2 else ("total", "kept"):
            embedder.kept.clear()
            if way == "kept":
                embedder.keep([question])
            t = time.perf_counter()
            facts.search(TENANT, question, filters=only, limit=10)
            timings[way].append(time.perf_counter() - t)
        t = time.perf_counter()
        embedder.model.embed([question])
        timings["embedding"].append(time.perf_counter() - t)
    return {
        "queries": len(asks),
        "p50_ms": ms(timings["total"], 50),
        "p95_ms": ms(timings["total"], 95),
        "without_embedding_p50_ms": ms(timings["kept"], 50),
        "without_embedding_p95_ms": ms(timings["kept"], 95),
        "embedding_p50_ms": ms(timings["embedding"], 50),
    }


def parts(runtime: Runtime, embedder: KeptVectors, picks: list[tuple[str, str]]) -> dict:
    """What a search's vector side costs: the index asked for 400 (what a search of 10 asks:
    100 candidates, 4 times over) or 100 vectors, with and without the subject and attribute
    filter, against reading that slot's stored vectors from SQL and scoring them here."""
    facts = runtime.facts
    space = Space.of(embedder, TENANT, "fact")
    timings: dict[str, list[float]] = defaultdict(list)
    for subject, attribute in picks:
        question = ASKED[attribute].format(subject)
        embedder.keep([question])
        vector = embedder.embed([question])[0]
        only = {"subject": subject, "attribute": attribute}
        compiled = filters_.compile_filters(only)
        for name, k, where in (
            ("index_400", 400, None),
            ("index_100", 100, None),
            ("index_400_slot_filter", 400, VectorFilter(fields=tuple(compiled.vectors.items()))),
        ):
            t = time.perf_counter()
            facts.index.query(space, vector, k, where)
            timings[name].append(time.perf_counter() - t)
        t = time.perf_counter()
        with Session(runtime.engine) as session:
            rows = session.exec(
                select(Fact.id, Fact.vector).where(Fact.tenant_id == TENANT, *compiled.sql)
            ).all()
        sorted(rows, key=lambda r: -float(np.frombuffer(r[1], dtype=np.float32) @ vector))
        timings["sql_slot_vectors_scored"].append(time.perf_counter() - t)
    return {f"{name}_p50_ms": ms(values, 50) for name, values in timings.items()}


def speed(sizes: list[int], seed: int, queries: int, data: Path) -> dict:
    rng = random.Random(seed)
    biggest = max(sizes)
    events = world(rng, min(len(FIRST) * len(LAST), biggest // 10))
    heard, _ = arrival(rng, events)
    heard = [e for e in heard if not e.negates]
    names = sorted({e.subject for e in heard})
    embedder = KeptVectors(MiniLMEmbedder())
    embedder.model.embed(["warm up"])
    out: dict = {"machine": machine(), "python": platform.python_version(), "sizes": []}
    with tempfile.TemporaryDirectory() as home:
        runtime = runtime_in(Path(home), embedder)  # type: ignore[arg-type]
        facts = runtime.facts
        loaded = 0  # world facts written so far
        seconds = 0.0

        def fill(target: int) -> None:
            """Write world facts, 1,000 a write, until the store keeps `target` of them."""
            nonlocal loaded, seconds
            t = time.perf_counter()
            while (have := facts.counts(TENANT)["facts"]) < target:
                batch = heard[loaded : loaded + min(1000, target - have)]
                if not batch:
                    raise SystemExit(f"the world ran out of facts at {have}")
                facts.write(TENANT, [e.fact() for e in batch])
                loaded += len(batch)
            seconds += time.perf_counter() - t

        for size in sorted(sizes):
            fill(size - WRITE_SPEED_FACTS)
            row: dict = {"facts": size, "writes": write_speed(runtime, rng, names, data)}
            fill(size)
            row["world_facts_written"] = loaded
            row["load_seconds"] = round(seconds, 1)
            row["load_per_s"] = round(loaded / seconds)
            picks = [(rng.choice(names), rng.choice(list(ASKED))) for _ in range(queries)]
            row["search"] = latency(
                runtime, embedder, [(ASKED[a].format(s), None) for s, a in picks]
            )
            row["slot_search"] = latency(
                runtime,
                embedder,
                [(ASKED[a].format(s), {"subject": s, "attribute": a}) for s, a in picks],
            )
            row["vector_side"] = parts(runtime, embedder, picks[:50])
            out["sizes"].append(row)
            print("size", row)
        runtime.close()
    return out


WRITE_SPEED_FACTS = 1_600  # what `write_speed` adds to the store


def write_speed(runtime: Runtime, rng: random.Random, names: list[str], data: Path) -> dict:
    """Writes per second in a store of the size loaded: slot facts one at a time and 100 a
    write, and free statements (which look up their near neighbours) 100 a write."""
    facts = runtime.facts
    when = DAY0 + timedelta(days=DAYS)

    def slot_fact(i: int) -> FactInput:
        return FactInput(
            subject=rng.choice(names), attribute="likes", value=f"{rng.choice(LIKES)} #{i}",
            valid_at=when, cardinality="many",
        )  # fmt: skip

    singles = []
    for i in range(100):
        fact = slot_fact(i)
        t = time.perf_counter()
        facts.write(TENANT, [fact])
        singles.append(time.perf_counter() - t)
    batches, free = [], []
    for b in range(10):
        batch = [slot_fact(1000 + b * 100 + i) for i in range(100)]
        t = time.perf_counter()
        facts.write(TENANT, batch)
        batches.append(time.perf_counter() - t)
    statements = [o for sample in json.loads(data.read_text()) for o in observations(sample)]
    start = rng.randrange(len(statements) - 500)  # no two sizes write the same statements
    for b in range(5):
        batch = statements[start + b * 100 : start + b * 100 + 100]
        t = time.perf_counter()
        facts.write(TENANT, batch)
        free.append(time.perf_counter() - t)
    return {
        "single_per_s": round(1 / statistics.median(singles)),
        "single_p50_ms": ms(singles, 50),
        "batch100_per_s": round(100 / statistics.median(batches)),
        "free_batch100_per_s": round(100 / statistics.median(free)),
    }
