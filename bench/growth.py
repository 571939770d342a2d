"""Archival memory as one agent grows to a million passages. Not part of the test suite.

    .venv/bin/python bench/growth.py [--passages 100000 1000000] [--json /tmp/growth.json]
        [--sentences 1] [--home DIR]

One home, one agent, grown in steps to each size of `--passages`. At each size: the bulk load
rate (SQL rows and vectors apart), archival search p50/p95 over 200 queries and a dated query's
p50 (as bench/perf.py measures them), the home's disk use, and start-up on that home: a fresh
`Runtime` in a new process until its first search answers, `recalld serve` until /v1/health
answers, and the same app with the bench's embedder until its first search over HTTP answers,
each with its resident memory.

Rows go in through `Runtime.insert_passages`; their vectors do not go through the indexer, which
writes a batch of 256 rows at a time, but straight into the agent's collection in batches of
5,000, with the ids, texts and metadata the indexer would give them (`indexer.Batch`), and the
rows are then marked indexed as the indexer marks them. The bench holds the agent's index claim
while it loads (claims.py), so the indexer's own thread leaves the rows to it. Synthetic text:
words drawn from the LoCoMo turns with their own frequencies, `--sentences` sentences a passage
(one: one vector a passage; LoCoMo turns average 3.9 vectors, see retrieval/parts.py).

Each step runs in a child process of its own, so that no Chroma state a process keeps in memory
makes a later start-up look warm.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, update
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from live_server import BIN, clean_env, free_port  # noqa: E402  (tests/support)
from perf import instant, locomo_turns, pct  # noqa: E402  (bench/perf.py)

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec, PassageInput  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.retrieval.corpus import PASSAGES  # noqa: E402
from agent_runtime.retrieval.indexer import Batch  # noqa: E402
from agent_runtime.retrieval.vector_index import Space  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402
from agent_runtime.storage.database import transaction  # noqa: E402
from agent_runtime.storage.tables import Passage  # noqa: E402

AGENT = "growth"
DIMENSION = 384
ROWS_PER_CHUNK = 20_000  # rows inserted, then vectored and marked, before the next ones
SQL_BATCH = 2_000  # rows per insert_passages call, as bench/perf.py
VECTOR_BATCH = 5_000  # vectors per upsert (Chroma takes at most 5,461)
QUERIES = 200
SAMPLES = 8  # passages whose own text must find them
SPEAKERS = ["Caroline", "Melanie", "Ada", "Jon", "Gina", "Tim", "Joanna", "Nate"]
BASE = datetime(2023, 1, 1, tzinfo=UTC)  # passage i is from BASE + i minutes, as bench/perf.py


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def open_runtime(home: Path) -> Runtime:
    return Runtime(
        Settings(home=home, default_embedding="fake"),
        llm=instant(),
        embedder_factory=lambda _name: FakeEmbedder(DIMENSION),
    )


def agent_id_of(runtime: Runtime) -> str:
    found = runtime.find_agent(AGENT)
    if found is not None:
        return found.id
    return runtime.create_agent(AgentSpec(name=AGENT, embedding="fake")).id


# -- the passages ---------------------------------------------------------------------------


def word_pool() -> list[str]:
    """Every word of the LoCoMo turns, repeated as often as it is said."""
    return [w for t in locomo_turns() for w in re.findall(r"[A-Za-z']+", t.split(": ", 1)[-1])]


def passage_text(rng: random.Random, words: list[str], sentences: int) -> str:
    said = [
        " ".join(rng.choices(words, k=rng.randint(6, 18))).capitalize() + "."
        for _ in range(sentences)
    ]
    return f"{rng.choice(SPEAKERS)}: " + " ".join(said)


def insert_rows(runtime: Runtime, agent_id: str, texts: list[str], first: int) -> None:
    for offset in range(0, len(texts), SQL_BATCH):
        items = [
            PassageInput(text, BASE + timedelta(minutes=first + offset + i))
            for i, text in enumerate(texts[offset : offset + SQL_BATCH])
        ]
        runtime.insert_passages(agent_id, items)


def pending(session: Session, agent_id: str) -> list[Passage]:
    query = select(Passage).where(Passage.agent_id == agent_id, col(Passage.indexed).is_(False))
    return list(session.exec(query.order_by(col(Passage.id))))


def write_vectors(runtime: Runtime, agent_id: str, rows: list[Passage]) -> tuple[int, float]:
    """The rows' vectors into the agent's collection, as `Indexer._upsert` lays them out;
    returns how many vectors, and the seconds spent embedding them."""
    batch = Batch()
    for row in rows:
        batch.add(PASSAGES.prefix, int(row.id or 0), row.text, PASSAGES.metadata(row))
    embedder = runtime.services.embedders.get("fake")
    space = Space.of(embedder, agent_id, PASSAGES.name)
    embedding = 0.0
    for start in range(0, len(batch.ids), VECTOR_BATCH):
        end = start + VECTOR_BATCH
        t = time.perf_counter()
        vectors = embedder.embed(batch.texts[start:end])
        embedding += time.perf_counter() - t
        runtime.services.indexer.index.upsert(
            space, batch.ids[start:end], vectors, batch.metas[start:end]
        )
    return len(batch.ids), embedding


def mark(runtime: Runtime, agent_id: str, owner: str, ids: list[int], *, last: bool) -> None:
    """Mark rows indexed and renew (or release) the claim in one transaction, as the indexer
    does: the claim first, so the agent's row is locked before the rows."""
    claims = runtime.services.indexer.claims
    with transaction(runtime.engine) as session:
        if not claims.keep(session, agent_id, owner, release=last):
            raise SystemExit("lost the index claim while loading: the indexer took the rows")
        for start in range(0, len(ids), VECTOR_BATCH):
            chunk = ids[start : start + VECTOR_BATCH]
            session.exec(update(Passage).where(col(Passage.id).in_(chunk)).values(indexed=True))


def load(runtime: Runtime, agent_id: str, have: int, want: int, sentences: int) -> dict:
    """Grow the agent from `have` passages to `want`."""
    owner = runtime.services.indexer.claims.take(agent_id)
    if owner is None:
        raise SystemExit("another process holds the agent's index claim")
    rng, words = random.Random(have), word_pool()
    sql_s = vector_s = embed_s = 0.0
    vectors = 0
    for first in range(have, want, ROWS_PER_CHUNK):
        texts = [
            passage_text(rng, words, sentences) for _ in range(min(ROWS_PER_CHUNK, want - first))
        ]
        t = time.perf_counter()
        insert_rows(runtime, agent_id, texts, first)
        sql_s += time.perf_counter() - t
        t = time.perf_counter()
        with Session(runtime.engine) as session:
            rows = pending(session, agent_id)
        written, embedding = write_vectors(runtime, agent_id, rows)
        last = first + ROWS_PER_CHUNK >= want
        mark(runtime, agent_id, owner, [int(r.id or 0) for r in rows], last=last)
        vector_s += time.perf_counter() - t
        vectors, embed_s = vectors + written, embed_s + embedding
        done = first + len(texts)
        log(f"  {done:,} passages, {done - have:,} new: sql {(done - have) / sql_s:,.0f}/s, "
            f"vectors {vectors / vector_s:,.0f}/s")  # fmt: skip
    rows = want - have
    return {
        "rows": rows,
        "vectors": vectors,
        "sql_s": round(sql_s, 1),
        "vector_s": round(vector_s, 1),
        "embed_s": round(embed_s, 1),
        "sql_rows_per_s": round(rows / sql_s),
        "vector_rows_per_s": round(rows / vector_s),
        "vectors_per_s": round(vectors / vector_s),
        "rows_per_s": round(rows / (sql_s + vector_s)),
    }


# -- checks ---------------------------------------------------------------------------------


def stored_vectors(runtime: Runtime, agent_id: str) -> int:
    space = Space.of(runtime.services.embedders.get("fake"), agent_id, PASSAGES.name)
    # A count, not `ids()`, which pages through every id. Private, but this is a bench.
    return int(runtime.services.indexer.index._collection(space).count())  # type: ignore[attr-defined]


def verify(runtime: Runtime, agent_id: str, want: int, vectors: int) -> dict:
    """Fail unless the indexer finds nothing to do, the collection holds every vector, and
    sampled passages are found by their own text: by the whole search and by meaning alone."""
    indexer = runtime.services.indexer
    if (again := indexer.index_agent(agent_id)) != 0:
        raise SystemExit(f"the indexer embedded {again} rows again")
    status = indexer.status(agent_id=agent_id)
    if status["pending_rows"] or status["parked_rows"]:
        raise SystemExit(f"rows left pending: {status}")
    stored = stored_vectors(runtime, agent_id)
    if stored != vectors:
        raise SystemExit(f"the collection holds {stored} vectors, the rows {vectors}")
    with Session(runtime.engine) as session:
        count = session.exec(select(func.count()).where(Passage.agent_id == agent_id)).one()
        if count != want:
            raise SystemExit(f"the agent has {count} passages, not {want}")
        picks = random.Random(want).sample(range(1, want + 1), SAMPLES)
        rows = list(session.exec(select(Passage).where(col(Passage.id).in_(picks))))
    searcher, embedder = runtime.services.searcher, runtime.services.embedders.get("fake")
    for row in rows:
        hits, _total = runtime.search_archival(agent_id, row.text, limit=10)
        if row.id not in [h.id for h in hits]:
            raise SystemExit(f"passage {row.id} is not among its own text's search hits")
        dense = searcher.dense(embedder, agent_id, PASSAGES, row.text, 10, None, None)
        if row.id not in dense:
            raise SystemExit(f"passage {row.id} is not among its own text's dense hits")
    return {"vectors_stored": stored, "samples_found": len(rows)}


# -- measures -------------------------------------------------------------------------------


def search_times(runtime: Runtime, agent_id: str) -> dict:
    """As bench/perf.py: LoCoMo turns as queries, the first (which loads the HNSW index) not
    counted, then dated queries."""
    rng, turns = random.Random(2), locomo_turns()
    timings, dated = [], []
    for i in range(QUERIES + 1):
        query = rng.choice(turns).split(": ", 1)[-1][:80]
        t = time.perf_counter()
        runtime.search_archival(agent_id, query, limit=10)
        if i:
            timings.append(time.perf_counter() - t)
    for _ in range(QUERIES // 2):
        query = rng.choice(turns).split(": ", 1)[-1][:60] + " in March 2023"
        t = time.perf_counter()
        runtime.search_archival(agent_id, query, limit=10)
        dated.append(time.perf_counter() - t)
    return {
        "search_p50_ms": round(pct(timings, 50), 2),
        "search_p95_ms": round(pct(timings, 95), 2),
        "dated_search_p50_ms": round(pct(dated, 50), 2),
        "dated_search_p95_ms": round(pct(dated, 95), 2),
    }


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM")


def used_mb(path: Path) -> float:
    """Disk used (allocated blocks, as du counts them) by a file or a folder."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_blocks * 512 for p in files) / 2**20, 1)


def disk(home: Path) -> dict:
    sql = sum(used_mb(p) for p in home.glob("recalld.db*"))
    return {
        "sql_mb": round(sql, 1),
        "chroma_mb": used_mb(home / "chroma"),
        "home_mb": used_mb(home),
    }


# -- the child processes --------------------------------------------------------------------


def grow(home: Path, want: int, sentences: int) -> dict:
    runtime = open_runtime(home)
    agent_id = agent_id_of(runtime)
    have = runtime.get_agent(agent_id).passage_count
    before = stored_vectors(runtime, agent_id)
    log(f"growing {have:,} -> {want:,} passages")
    loaded = load(runtime, agent_id, have, want, sentences)
    checked = verify(runtime, agent_id, want, before + loaded["vectors"])
    log("  verified:", checked)
    searched = search_times(runtime, agent_id)
    log("  search:", searched)
    result = {"passages": want, "load": loaded, "check": checked, **searched}
    result["peak_rss_mb"] = peak_rss_mb()
    runtime.close()
    return result


def start(home: Path, query: str) -> dict:
    """A fresh Runtime on the home, timed until its first search answers."""
    t = time.perf_counter()
    runtime = open_runtime(home)
    opened = time.perf_counter() - t
    agent_id = agent_id_of(runtime)
    t = time.perf_counter()
    runtime.search_archival(agent_id, query, limit=10)
    searched = time.perf_counter() - t
    t = time.perf_counter()
    runtime.search_archival(agent_id, query + " again", limit=10)
    second = time.perf_counter() - t
    result = {
        "runtime_s": round(opened, 3),
        "first_search_s": round(searched, 3),
        "second_search_ms": round(second * 1000, 1),
        "rss_after_first_search_mb": rss_mb(),
    }
    print(json.dumps(result), flush=True)
    runtime.close()
    return result


def serve(home: Path, port: int) -> None:
    """The app `recalld serve` runs, with the bench's embedder (`recalld serve` would give a
    "fake" agent a 64-dimension one, whose collection is empty)."""
    import uvicorn

    from server.app import create_app

    runtime = open_runtime(home)
    runtime.warm_up()
    try:
        app = create_app(runtime.settings, runtime=runtime)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    finally:
        runtime.close()


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args], env=clean_env(), stdout=subprocess.PIPE, text=True
    )


def until_healthy(url: str, process: subprocess.Popen, started: float) -> float:
    while time.monotonic() < started + 600:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url + "/v1/health", timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("the server did not answer in time")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def time_recalld_serve(home: Path) -> dict:
    """`recalld serve` as a user starts it, until /v1/health answers."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "recalld"), "serve", "--port", str(port)],
        env=clean_env(RECALLD_HOME=str(home), RECALLD_DEFAULT_EMBEDDING="fake"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        healthy = until_healthy(f"http://127.0.0.1:{port}", process, started)
        return {"health_s": round(healthy, 2), "rss_after_health_mb": rss_mb(process.pid)}
    finally:
        stop(process)


def time_server(home: Path, agent_id: str, query: str) -> dict:
    """The same app with the bench's embedder, until its first archival search answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    process = child("--child", "serve", "--home", str(home), "--port", str(port))
    try:
        healthy = until_healthy(url, process, started)
        rss_health = rss_mb(process.pid)
        found = httpx.get(
            url + f"/v1/agents/{agent_id}/archival", params={"query": query}, timeout=600
        )
        found.raise_for_status()
        return {
            "health_s": round(healthy, 2),
            "first_search_s": round(time.monotonic() - started, 2),
            "rss_after_health_mb": rss_health,
            "rss_after_first_search_mb": rss_mb(process.pid),
        }
    finally:
        stop(process)


def time_runtime(home: Path, query: str) -> dict:
    started = time.monotonic()
    process = child("--child", "start", "--home", str(home), "--query", query)
    assert process.stdout is not None
    line = process.stdout.readline()
    answered = time.monotonic() - started
    process.wait()
    if not line:
        raise SystemExit("the start-up child failed")
    return {"process_to_first_search_s": round(answered, 2), **json.loads(line)}


def run_child(*args: str) -> dict:
    process = child(*args)
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"child {args[1]} failed with {process.returncode}")
    return json.loads(out.strip().splitlines()[-1])


# -- the run --------------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "machine": f"{platform.machine()} {cpu} {subprocess.getoutput('nproc')} cores".strip(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def measure(home: Path, size: int, sentences: int) -> dict:
    row = run_child("--child", "grow", "--home", str(home), "--to", str(size),
                    "--sentences", str(sentences))  # fmt: skip
    row["disk"] = disk(home)
    log("  disk:", row["disk"])
    query = "what did Caroline say about the adoption agency"
    row["start_runtime"] = time_runtime(home, query)
    log("  runtime start:", row["start_runtime"])
    row["start_recalld_serve"] = time_recalld_serve(home)
    log("  recalld serve:", row["start_recalld_serve"])
    agent_id = agent_of(home)
    row["start_server_search"] = time_server(home, agent_id, query)
    log("  server:", row["start_server_search"])
    return row


def agent_of(home: Path) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{home / 'recalld.db'}")
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM agent WHERE name = :n"), {"n": AGENT}).scalar()
    engine.dispose()
    return str(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--sentences", type=int, default=1, help="sentences per passage")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--home", type=Path, help="keep the data here (default: a temp folder)")
    parser.add_argument("--child", choices=["grow", "start", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--to", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "grow":
        print(json.dumps(grow(args.home, args.to, args.sentences)), flush=True)
    elif args.child == "start":
        start(args.home, args.query)
    elif args.child == "serve":
        serve(args.home, args.port)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    sizes = sorted(args.passages)
    results: dict = {**machine(), "sentences_per_passage": args.sentences, "sizes": []}
    temp = None if args.home else tempfile.mkdtemp(prefix="growth-")
    home = args.home or Path(temp) / "home"  # type: ignore[arg-type]
    try:
        for size in sizes:
            results["sizes"].append(measure(home, size, args.sentences))
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    if len(sizes) >= 2:
        first, last = results["sizes"][0], results["sizes"][-1]
        results["p50_ratio"] = round(last["search_p50_ms"] / first["search_p50_ms"], 2)
        results["dated_p50_ratio"] = round(
            last["dated_search_p50_ms"] / first["dated_search_p50_ms"], 2
        )
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
