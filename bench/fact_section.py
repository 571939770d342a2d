"""The facts section of an `auto` turn in a server whose fact table is shared. Not a test.

    .venv/bin/python bench/fact_section.py [--facts 50] [--others 100000] [--window 8000]

One agent's scope of `--facts` facts (the shape bench/automatic.py writes) in a table that also
holds about `--others` facts of another tenant (copies, made in SQL: only their number and
words matter here). Times `facts/context.py`'s `build` for the agent's turns, the section every
turn of an `auto` agent with facts waits for before its first model call, with the local
embedder (`--embedding fake` leaves the query's embedding out). A scope of at most 60 facts is
read whole; `--window` sets whether they all fit (8,000 tokens: about half of 50 do).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from automatic import InstantModel, scope_facts, user_message  # noqa: E402 (bench/)

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec, Scope  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.facts import context as facts_context  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402


def fill(runtime: Runtime, others: int) -> int:
    """Double the table as another tenant's facts until it holds about `others` more."""
    with Session(runtime.engine) as session:
        columns = [r[1] for r in session.execute(text("PRAGMA table_info(fact)")) if r[1] != "id"]
    copied = ", ".join(
        {"tenant_id": "'other'", "agent_id": "NULL"}.get(name, name) for name in columns
    )
    names = ", ".join(columns)
    with runtime.engine.begin() as connection:
        while connection.execute(text("SELECT count(*) FROM fact")).scalar_one() <= others:
            connection.execute(text(f"INSERT INTO fact ({names}) SELECT {copied} FROM fact"))
        return int(connection.execute(text("SELECT count(*) FROM fact")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=50)
    parser.add_argument("--others", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=8000)
    parser.add_argument("--embedding", default="local", choices=["local", "fake"])
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    factory = (lambda _n: FakeEmbedder(384)) if args.embedding == "fake" else None
    with tempfile.TemporaryDirectory() as home:
        runtime = Runtime(
            Settings(home=Path(home), default_embedding=args.embedding, default_model="instant"),
            llm=InstantModel(),
            embedder_factory=factory,
        )
        try:
            spec = AgentSpec(name="section", memory="auto", context_window=args.window)
            agent_id = runtime.create_agent(spec).id
            scope = Scope(agent_id=agent_id)
            runtime.facts.write("default", scope_facts(args.facts), scope, actor="bench")
            runtime.services.indexer.index_agent(agent_id)
            table = fill(runtime, args.others) if args.others else args.facts
            agent = runtime.get_agent(agent_id)
            rng = random.Random(1)
            texts = [user_message(rng) for _ in range(args.turns + 20)]
            times, counts = [], []
            for n, query in enumerate(texts):
                started = time.perf_counter()
                section = facts_context.build(
                    runtime.facts, runtime.services.counter, agent, query, None
                )
                if n >= 20:  # warm-up
                    times.append(time.perf_counter() - started)
                    counts.append(0 if section is None else section.count)
        finally:
            runtime.close()
    times.sort()
    print(
        json.dumps(
            {
                "machine": subprocess.getoutput("lscpu | sed -n 's/^Model name: *//p'").strip(),
                "embedding": args.embedding,
                "scope_facts": args.facts,
                "table_facts": table,
                "window": args.window,
                "section_p50_ms": round(statistics.median(times) * 1000, 2),
                "section_p95_ms": round(times[int(len(times) * 0.95)] * 1000, 2),
                "facts_shown_p50": statistics.median(counts),
            }
        )
    )


if __name__ == "__main__":
    main()
