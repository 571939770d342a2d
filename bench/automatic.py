"""Automatic memory with an instant model. Not part of the test suite.

    .venv/bin/python bench/automatic.py [--rounds 60] [--turns 400 --agents 50] [--json OUT]

Measures:
- server time per step of `auto` agents against a `tools` agent, turns interleaved in one run:
  with the local embedder and embedded Chroma (as a server runs), back to back and paced
  (`--gap` idle seconds before each send, so the background indexer is idle), then with the fake
  embedder. An `auto` turn queues one extraction row in its last step and, before its first
  model call, searches the facts for its context: `auto` is timed with no facts in scope and
  with `--facts`, and the search and the row are timed inside the turn.
- extraction throughput: turns queued by real `auto` turns, drained by 1 and 2 pipeline threads
  with the instant model (`ModelExtractor`) and with the offline rules (`RuleExtractor`),
  `--repeats` times in alternating order; then once with the pipeline running during the turns.
- model calls per batch and per extracted turn: the instant model's own count of extraction
  requests, and the sum of `Extraction.model_calls`.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec, FactInput, Scope  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.facts import context as facts_context  # noqa: E402
from agent_runtime.llm import ChatRequest, ChatResponse, ToolCall  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402
from agent_runtime.storage.tables import Extraction  # noqa: E402

TENANT = "default"
CITIES = ["Lisbon", "Porto", "Berlin", "Oslo", "Madrid", "Dublin", "Vienna", "Prague", "Turin"]
EMPLOYERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka"]
LIKES = ["sushi", "jazz", "hiking", "chess", "gardening", "cycling", "pottery", "opera", "tea"]
SMALL_TALK = [
    "What should I cook tonight?",
    "Any idea for a weekend trip?",
    "Can you remind me what we said about the budget?",
    "The weather has been strange lately.",
    "I need a gift idea for a friend.",
    "How long does bread take to rise?",
]
# What the instant model reads in a transcript line: "[3] user (2024-05-01): I live in Oslo. ..."
LINE = re.compile(r"^\[(\d+)\] user \([^)]*\): (.*)$", re.MULTILINE)
STATEMENTS = [
    (re.compile(r"\bI live in ([A-Z]\w+)"), "lives_in", "single", "fact", "lives in"),
    (re.compile(r"\bI work at ([A-Z]\w+)"), "employer", "single", "fact", "works at"),
    (re.compile(r"\bI like ([a-z]+)"), "likes", "many", "preference", "likes"),
]


class InstantModel:
    """Answers a chat at once with "ok", and an extraction request (its tools hold
    `record_facts`) with a valid record_facts call: one fact per "I live in / work at / like"
    statement of each user line of the transcript. Counts both kinds of call."""

    def __init__(self) -> None:
        self.chats = 0
        self.extractions = 0
        self._lock = threading.Lock()

    def complete(self, request: ChatRequest) -> ChatResponse:
        names = {t.get("function", {}).get("name") for t in request.tools}
        if "record_facts" not in names:
            with self._lock:
                self.chats += 1
            return ChatResponse(content="ok")
        with self._lock:
            self.extractions += 1
            call_id = f"call_{self.extractions}"
        prompt = request.messages[0]["content"]
        facts = []
        for match in LINE.finditer(prompt):
            index, content = int(match.group(1)), match.group(2)
            for pattern, attribute, cardinality, kind, verb in STATEMENTS:
                for value in pattern.findall(content):
                    facts.append(
                        {
                            "text": f"The user {verb} {value}",
                            "subject": "user",
                            "attribute": attribute,
                            "value": value,
                            "kind": kind,
                            "cardinality": cardinality,
                            "valid_at": None,
                            "message": index,
                        }
                    )
        arguments = json.dumps({"facts": facts})
        return ChatResponse(tool_calls=[ToolCall(call_id, "record_facts", arguments)])


def user_message(rng: random.Random) -> str:
    """One or two first-person statements and a question, as a user might write."""
    said = [
        rng.choice(
            [
                f"I live in {rng.choice(CITIES)} now.",
                f"I work at {rng.choice(EMPLOYERS)} these days.",
                f"I like {rng.choice(LIKES)} a lot.",
            ]
        )
        for _ in range(rng.randint(1, 2))
    ]
    return " ".join([*said, rng.choice(SMALL_TALK)])


def scope_facts(count: int) -> list[FactInput]:
    """About `count` facts for one agent's scope: slots (one value each) and free statements."""
    facts = [
        FactInput(subject="user", attribute="lives_in", value="Lisbon", cardinality="single"),
        FactInput(subject="user", attribute="employer", value="Acme", cardinality="single"),
    ]
    facts += [
        FactInput(subject="user", attribute="likes", value=like, kind="preference")
        for like in LIKES
    ]
    rng = random.Random(5)
    while len(facts) < count:
        n = len(facts)
        facts.append(
            FactInput(
                text=f"The user's friend number {n} lives in {rng.choice(CITIES)} and enjoys "
                f"{rng.choice(LIKES)} on weekends",
                kind="relationship",
            )
        )
    return facts


def ms(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 2) if values else None


def make_runtime(home: Path, embedder: str, model: InstantModel) -> Runtime:
    factory = (lambda _n: FakeEmbedder(384)) if embedder == "fake" else None
    return Runtime(
        Settings(
            home=home,
            default_embedding=embedder,
            default_model="instant",
            default_context_window=8000,
            worker_poll_seconds=0.02,
        ),
        llm=model,
        embedder_factory=factory,
    )


# -- server time per step: auto against tools ----------------------------------------------------


def step_times(
    home: Path, embedder: str, rounds: int, warmup: int, facts: int, gap: float
) -> dict[str, Any]:
    """Each round sends one message to every agent, in a rotating order, so drift and the
    background indexer weigh on all alike (`gap` seconds idle before each send: 0 is back to
    back). Inside `auto` turns the facts search and the queue row are timed by wrapping the
    runtime's own objects; after the rounds, with the indexer idle, the facts section is timed
    alone on the same messages."""
    model = InstantModel()
    runtime = make_runtime(home, embedder, model)
    full = f"auto_{facts}_facts"
    agents = {
        "tools": runtime.create_agent(AgentSpec(name="tools", memory="tools")).id,
        "auto_empty": runtime.create_agent(AgentSpec(name="auto0", memory="auto")).id,
        full: runtime.create_agent(AgentSpec(name="auto50", memory="auto")).id,
    }
    runtime.facts.write(TENANT, scope_facts(facts), Scope(agent_id=agents[full]), actor="bench")
    inside: dict[str, list[float]] = {"search": [], "queue": []}
    runtime.facts.search = timed(runtime.facts.search, inside["search"])  # type: ignore[method-assign]
    runtime.runner._queue_extraction = timed(  # type: ignore[method-assign]
        runtime.runner._queue_extraction, inside["queue"]
    )
    kinds = list(agents)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    parts: dict[str, dict[str, list[float]]] = {k: {"search": [], "queue": []} for k in kinds}
    rng = random.Random(1)
    texts = []
    for r in range(warmup + rounds):
        text = user_message(rng)
        texts.append(text)
        order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
        for kind in order:
            if gap:
                time.sleep(gap)
            for values in inside.values():
                values.clear()
            t = time.perf_counter()
            result = runtime.send(agents[kind], [text])
            seconds = time.perf_counter() - t
            assert result.steps == 1, result.stop_reason
            if r >= warmup:
                times[kind].append(seconds)
                for part, values in inside.items():
                    parts[kind][part] += values
    for agent_id in agents.values():
        runtime.services.indexer.index_agent(agent_id)
    alone: dict[str, list[float]] = {}
    sections: dict[str, list[int]] = {}
    for kind in kinds[1:]:
        agent = runtime.get_agent(agents[kind])
        for text in texts:
            t = time.perf_counter()
            section = facts_context.build(
                runtime.facts, runtime.services.counter, agent, text, None
            )
            alone.setdefault(kind, []).append(time.perf_counter() - t)
            sections.setdefault(kind, []).append(0 if section is None else section.count)
    with Session(runtime.engine) as session:
        queued = session.exec(select(func.count()).select_from(Extraction)).one()
    runtime.close()
    tools_p50 = statistics.median(times["tools"])
    rows: dict[str, dict[str, Any]] = {}
    for kind, values in times.items():
        rows[kind] = {
            "p50_ms": ms(values, 50),
            "p95_ms": ms(values, 95),
            "ratio_of_p50_to_tools": round(statistics.median(values) / tools_p50, 2),
        }
        if kind == "tools":
            continue
        extra = statistics.median(values) - tools_p50
        # a scope with no facts skips the search: nothing to time then
        search = statistics.median(parts[kind]["search"] or [0.0])
        rows[kind] |= {
            "extra_over_tools_ms": round(extra * 1000, 2),
            "facts_search_in_turn_p50_ms": ms(parts[kind]["search"], 50),
            "queue_row_p50_ms": ms(parts[kind]["queue"], 50),
            "search_share_of_extra": round(search / extra, 2) if extra > 0 and search else None,
            "facts_section_alone_p50_ms": ms(alone[kind][warmup:], 50),
            "facts_in_section_p50": statistics.median(sections[kind]),
        }
    return {
        "embedder": embedder,
        "gap_s": gap,
        "rounds": rounds,
        "scope_facts": facts,
        "extraction_rows_queued": queued,
        "chat_calls": model.chats,
        "agents": rows,
    }


def timed(function: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - t)

    return wrapper


def embedding_time(rounds: int) -> dict[str, Any]:
    """One query's local embedding alone: the part of the facts search no index can skip."""
    from agent_runtime.embedding.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])
    rng = random.Random(1)
    values = []
    for _ in range(rounds):
        text = user_message(rng)
        t = time.perf_counter()
        embedder.embed([text])
        values.append(time.perf_counter() - t)
    return {"query_embedding_p50_ms": ms(values, 50), "query_embedding_p95_ms": ms(values, 95)}


# -- extraction throughput and model calls -------------------------------------------------------


def drain(
    home: Path,
    embedder: str,
    extractor: str,
    threads: int,
    turns: int,
    agents: int,
    timeout: float,
    live: bool = False,
) -> dict[str, Any]:
    """Queue `turns` through real `auto` turns (pipeline stopped), let indexing finish, then
    time `threads` pipeline threads draining the queue. A batch's parts are timed by wrapping
    the runtime's own objects: the whole batch, the facts' embedding, the index upsert.
    `live`: the pipeline runs while the turns are sent, as on a server without a backlog (only
    its batches and model calls mean something then, not its rate)."""
    model = InstantModel()
    runtime = make_runtime(home, embedder, model)
    memory_model = "offline" if extractor == "rules" else None
    ids = [
        runtime.create_agent(AgentSpec(name=f"a{i}", memory="auto", memory_model=memory_model)).id
        for i in range(agents)
    ]
    if live:
        runtime.pipeline.start(threads)
    rng = random.Random(2)
    for i in range(turns):
        runtime.send(ids[i % agents], [user_message(rng)])
    for agent_id in ids:
        runtime.services.indexer.index_agent(agent_id)
    assert live or runtime.extraction.status(TENANT)["queued"] == turns
    parts: dict[str, list[float]] = {"batch": [], "embed": [], "index_upsert": []}
    pipeline, facts_embedder = runtime.pipeline, runtime.services.embedders.get(embedder)
    pipeline.process = timed(pipeline.process, parts["batch"])  # type: ignore[method-assign]
    facts_embedder.embed = timed(facts_embedder.embed, parts["embed"])  # type: ignore[method-assign]
    runtime.facts.index.upsert = timed(  # type: ignore[method-assign]
        runtime.facts.index.upsert, parts["index_upsert"]
    )
    start = time.perf_counter()
    pipeline.start(threads)
    while True:
        status = runtime.extraction.status(TENANT)
        if status["queued"] + status["running"] == 0:
            break
        if time.perf_counter() - start > timeout:
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    pipeline.stop()
    with Session(runtime.engine) as session:
        done = list(session.exec(select(Extraction).where(col(Extraction.status) == "done")))
    # A batch's rows are marked done by one UPDATE: one finish time, one agent.
    batches = len({(r.agent_id, r.finished_at) for r in done})
    facts = runtime.facts.counts(TENANT)
    runtime.close()
    return {
        "embedder": embedder,
        "extractor": extractor,
        "threads": threads,
        "live": live,
        "turns_queued": turns,
        "turns_done": len(done),
        "parked_or_left": status["parked"] + status["queued"] + status["running"],
        "timed_out": seconds > timeout,
        "seconds": None if live else round(seconds, 2),
        "turns_per_s": None if live else round(len(done) / seconds, 1),
        "batches": batches,
        "turns_per_batch": round(len(done) / max(batches, 1), 2),
        "model_calls_counted": model.extractions,
        "model_calls_recorded": sum(r.model_calls for r in done),
        "model_calls_per_batch": round(model.extractions / max(batches, 1), 3),
        "model_calls_per_turn": round(model.extractions / max(len(done), 1), 3),
        "facts": facts,
        "batch_p50_ms": ms(parts["batch"], 50),
        "embed_p50_ms": ms(parts["embed"], 50),
        "index_upsert_p50_ms": ms(parts["index_upsert"], 50),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60, help="timed rounds per step run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--facts", type=int, default=50, help="facts in the second auto scope")
    parser.add_argument(
        "--gap", type=float, default=0.3, help="idle seconds before each send in the paced run"
    )
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="drains per configuration")
    parser.add_argument("--drain-embedder", default="local")
    parser.add_argument("--timeout", type=float, default=120.0, help="per drain, seconds")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.warmup, args.turns, args.agents, args.repeats = 6, 2, 40, 5, 1
    results: dict[str, Any] = {
        "machine": subprocess.getoutput("lscpu | grep 'Model name'").split(":")[-1].strip()
        + f", {subprocess.getoutput('nproc')} cores",
        "python": platform.python_version(),
        "date": date.today().isoformat(),
        "steps": [],
        "drain": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n, (embedder, gap) in enumerate([("local", 0.0), ("local", args.gap), ("fake", 0.0)]):
            row = step_times(
                root / f"steps-{n}", embedder, args.rounds, args.warmup, args.facts, gap
            )
            results["steps"].append(row)
            print("steps", json.dumps(row))
        results["local_embedding"] = embedding_time(args.rounds)
        print("embedding", results["local_embedding"])
        configs = [(e, t) for e in ("model", "rules") for t in args.threads]
        for repeat in range(args.repeats):
            # alternate the order so a drift in the machine's load favours no configuration
            for extractor, threads in configs if repeat % 2 == 0 else configs[::-1]:
                home = root / f"drain-{extractor}-{threads}-{repeat}"
                row = drain(
                    home,
                    args.drain_embedder,
                    extractor,
                    threads,
                    args.turns,
                    args.agents,
                    args.timeout,
                )
                results["drain"].append(row)
                print("drain", json.dumps(row))
        row = drain(
            root / "live", args.drain_embedder, "model", 1, args.turns // 2, args.agents, 60, True
        )
        results["live"] = row
        print("live", json.dumps(row))
    results["drain_medians"] = [
        {
            "extractor": extractor,
            "threads": threads,
            "turns_per_s": statistics.median(
                r["turns_per_s"]
                for r in results["drain"]
                if (r["extractor"], r["threads"]) == (extractor, threads)
            ),
        }
        for extractor, threads in configs
    ]
    print("drain medians", json.dumps(results["drain_medians"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
