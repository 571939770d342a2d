"""Runtime performance with an instant scripted model. Not part of the test suite.

    .venv/bin/python bench/perf.py [--passages 10000 100000] [--json bench/out/perf.json]

Measures: server time per step as history grows (10 / 1,000 / 10,000 messages), archival insert
throughput, hybrid archival search latency (query embedding timed apart) at 10k and 100k passages,
local embedding throughput, and start-up time of `recalld serve`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec, PassageInput  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.llm import ChatResponse  # noqa: E402
from agent_runtime.llm.scripted import ScriptedLLM  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402
from agent_runtime.storage.database import transaction  # noqa: E402
from agent_runtime.storage.tables import Agent, Message  # noqa: E402

WORDS = [
    "boat", "harbour", "invoice", "meeting", "lunch", "dentist", "project", "budget", "hiring",
    "octopus", "garden", "concert", "painting", "museum", "violin", "marathon", "bakery",
    "festival", "camera", "journal",
]  # fmt: skip


def sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def instant() -> ScriptedLLM:
    return ScriptedLLM(fallback=lambda _r: ChatResponse(content="ok"))


def step_overhead(home: Path, history: int, embedder: str, rounds: int) -> dict:
    factory = (lambda _n: FakeEmbedder(384)) if embedder == "fake" else None
    runtime = Runtime(
        Settings(home=home, default_embedding=embedder, default_context_window=8000),
        llm=instant(),
        embedder_factory=factory,
    )
    agent_id = runtime.create_agent(AgentSpec(name="bench")).id
    rng = random.Random(1)
    start = datetime.now(UTC) - timedelta(days=30)
    with transaction(runtime.engine) as session:
        for i in range(history):
            session.add(
                Message(
                    agent_id=agent_id,
                    turn_id=f"t{i // 2}",
                    role="user" if i % 2 == 0 else "assistant",
                    content=sentence(rng),
                    in_context=i >= history - 20,
                    tokens=20,
                    indexed=True,
                    created_at=start + timedelta(seconds=i),
                )
            )
        agent = session.get(Agent, agent_id)
        assert agent is not None
        agent.message_count = history
    runtime.send(agent_id, ["warm up"])
    timings = []
    for i in range(rounds):
        t = time.perf_counter()
        runtime.send(agent_id, [f"message {i}: " + sentence(rng)])
        timings.append(time.perf_counter() - t)
    runtime.close()
    return {
        "history": history,
        "embedder": embedder,
        "p50_ms": pct(timings, 50),
        "p95_ms": pct(timings, 95),
    }


def archival(home: Path, count: int, queries: int, database_url: str | None = None) -> dict:
    runtime = Runtime(
        Settings(home=home, database_url=database_url),
        llm=instant(),
        embedder_factory=lambda _n: FakeEmbedder(384),
    )
    agent_id = runtime.create_agent(AgentSpec(name="bench", embedding="fake")).id
    rng = random.Random(2)
    # single inserts through the API path (SQL row + vector), as a tool call would make them
    singles = []
    for i in range(200):
        t = time.perf_counter()
        runtime.insert_passage(agent_id, f"note {i}: " + sentence(rng))
        singles.append(time.perf_counter() - t)
    t = time.perf_counter()
    base = datetime(2023, 1, 1, tzinfo=UTC)
    turns = locomo_turns()
    batch = 2000
    for offset in range(200, count, batch):
        items = [
            PassageInput(f"{turns[i % len(turns)]} (#{i})", base + timedelta(minutes=i))
            for i in range(offset, min(offset + batch, count))
        ]
        runtime.insert_passages(agent_id, items)
    runtime.services.indexer.index_agent(agent_id)  # bulk throughput includes the vectors
    bulk_seconds = time.perf_counter() - t
    if runtime.engine.dialect.name == "postgresql":
        # autovacuum analyses a freshly loaded table within about a minute; the bench does not
        # wait for it (keyword search reads the word statistics ANALYZE keeps)
        with runtime.engine.begin() as conn:
            conn.execute(text("ANALYZE passage"))
    local = None
    try:
        from agent_runtime.embedding.minilm import MiniLMEmbedder

        local = MiniLMEmbedder()
        local.embed(["warm"])
    except Exception:
        local = None
    search_ms, embed_ms = [], []
    for i in range(queries + 1):
        query = rng.choice(turns).split(": ", 1)[-1][:80]
        if local is not None:
            t = time.perf_counter()
            local.embed([query])
            embed_ms.append(time.perf_counter() - t)
        # The whole API path the tool uses (transaction, catch-up, keyword, dense, fusion,
        # neighbours, rows); the fake embedder's query vector costs microseconds.
        t = time.perf_counter()
        runtime.search_archival(agent_id, query, limit=10)
        if i:  # the first query pays for loading the HNSW index
            search_ms.append(time.perf_counter() - t)
    # A query naming a time ("in March 2023") also reads the times of the fused rows.
    dated_ms = []
    for _ in range(queries // 2):
        query = rng.choice(turns).split(": ", 1)[-1][:60] + " in March 2023"
        t = time.perf_counter()
        runtime.search_archival(agent_id, query, limit=10)
        dated_ms.append(time.perf_counter() - t)
    runtime.close()
    return {
        "passages": count,
        "single_insert_per_s": 1 / statistics.median(singles),
        "bulk_insert_per_s": (count - 200) / bulk_seconds if count > 200 else None,
        "search_p50_ms": pct(search_ms, 50),
        "search_p95_ms": pct(search_ms, 95),
        "dated_search_p50_ms": pct(dated_ms, 50),
        "query_embedding_p50_ms": pct(embed_ms, 50) if embed_ms else None,
    }


def locomo_turns() -> list[str]:
    """Real conversational text: every turn of the LoCoMo development split, "speaker: text"."""
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"
    if not data.exists():
        rng = random.Random(4)
        return [sentence(rng) for _ in range(5000)]
    turns = []
    for sample in json.loads(data.read_text()):
        conversation = sample["conversation"]
        for key, value in conversation.items():
            if key.startswith("session_") and isinstance(value, list):
                turns += [f"{t['speaker']}: {t['text']}" for t in value]
    return turns


def embedding_throughput() -> dict:
    from agent_runtime.embedding.minilm import MiniLMEmbedder

    rng = random.Random(3)
    texts = [
        f"{rng.choice(['Caroline', 'Melanie', 'Ada'])}: " + sentence(rng, rng.randint(6, 20))
        for _ in range(512)
    ]
    t = time.perf_counter()
    embedder = MiniLMEmbedder()
    embedder.embed(texts[:8])
    load = time.perf_counter() - t
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        embedder.embed(texts)
        runs.append(len(texts) / (time.perf_counter() - t))
    return {"texts": len(texts), "load_s": load, "texts_per_s_median": statistics.median(runs)}


def startup(home: Path) -> dict:
    from live_server import LiveServer  # tests/support

    server = LiveServer(home)
    t = time.perf_counter()
    server.start()
    seconds = time.perf_counter() - t
    server.stop()
    return {"serve_to_healthy_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--history", type=int, nargs="*", default=[10, 1_000, 10_000])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--database-url", help="archival figures on this database (an empty one), e.g. PostgreSQL"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    results: dict = {
        "machine": f"{platform.machine()} {platform.processor() or ''} "
        f"{subprocess.getoutput('nproc')} cores".strip(),
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results["startup"] = startup(root / "startup")
        print("startup", results["startup"])
        results["embedding"] = embedding_throughput()
        print("embedding", results["embedding"])
        results["steps"] = []
        for embedder in ("fake", "local"):
            for history in args.history:
                row = step_overhead(
                    root / f"steps-{embedder}-{history}", history, embedder, args.rounds
                )
                results["steps"].append(row)
                print("step", row)
        results["archival"] = []
        for count in args.passages:
            row = archival(root / f"arch-{count}", count, 200, args.database_url)
            results["archival"].append(row)
            print("archival", row)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
