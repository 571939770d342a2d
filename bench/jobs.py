"""Job throughput with an instant model. Not part of the test suite.

    .venv/bin/python bench/jobs.py [--jobs 40] [--steps 10] [--agents 8] [--workers 1 2 4]
    .venv/bin/python bench/jobs.py --database-url postgresql://postgres@127.0.0.1:5432/test \
        --processes 1 2 4 --rounds 2

Each job takes `--steps` steps (report_progress, then complete_job on the last). Jobs are spread
over `--agents` agents.

`--workers`: worker threads in this process, a scripted model (no HTTP), one database
(SQLite in a temporary home, or a fresh database on `--database-url`'s server).

`--processes`: that many `recalld worker` processes (one worker thread each, a home of its own),
all on one fresh database on `--database-url`'s server (without it: one shared SQLite file).
Their agents' model is an OpenAI-compatible stub on 127.0.0.1 that answers at once with the
tool call the step needs; it tells a request's job and step from its last message, which is only
sure when no two jobs of one agent run at once, so here each job has an agent of its own by
default (two jobs interleaved on one agent make the check below fail). Before timing, each
process runs a warm-up job on an agent of its own (its first model call imports litellm, 3-4 s),
so the figure excludes start-up. The time is from the first job's submission to the last job's
end (the database's own timestamps). Also reported: CPU per step of the workers, of this process
(the stub) and of the database's PostgreSQL backends.

Every job must succeed exactly once: status succeeded after one claim, `--steps` step events
numbered 1..steps by one worker, one assistant and one tool message per step, and each step's
model call made once. `--rounds` repeats the sizes, alternating, and prints medians and ranges.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_server import BIN, clean_env  # noqa: E402 (tests/support, put on the path above)
from openai_stub import OpenAIStub  # noqa: E402
from pgdb import fresh_database  # noqa: E402 (bench/pgdb.py)
from sqlmodel import Session, col, select  # noqa: E402

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.jobs.worker import WorkerPool  # noqa: E402
from agent_runtime.llm import ChatRequest, ChatResponse  # noqa: E402
from agent_runtime.llm.scripted import ScriptedLLM, echo_summary  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402
from agent_runtime.storage.tables import Job, JobEvent, Message  # noqa: E402

CONTEXT_WINDOW = 100_000  # no paging: every job's steps stay in the agent's context
START_SECONDS = 180.0  # worker processes starting beside each other (and other work) on 2 cores
RUN_SECONDS = 600.0
WARM_GOAL = "WARM-UP: take your time"
WARM_STEP_SECONDS = 0.5  # a warm-up step's model answer: long enough that each process takes one
TICKS = os.sysconf("SC_CLK_TCK")


def model(steps: int):  # type: ignore[no-untyped-def]
    calls = ScriptedLLM()

    def reply(request: ChatRequest) -> ChatResponse:
        # every job on an agent adds `steps` tool results, so this counts the current job's steps
        progress = sum(1 for m in request.messages if m["role"] == "tool")
        if progress % steps == steps - 1:
            return ChatResponse(tool_calls=[calls.call("complete_job", {"result": "done"})])
        return ChatResponse(tool_calls=[calls.call("report_progress", {"note": "working"})])

    return reply


def run(jobs: int, steps: int, agents: int, workers: int, database_url: str | None) -> dict:
    """Worker threads in this process, the scripted model."""
    where = fresh_database(database_url) if database_url else nullcontext(None)
    with where as url, tempfile.TemporaryDirectory() as home:
        runtime = Runtime(
            Settings(
                home=Path(home),
                database_url=url,
                worker_poll_seconds=0.01,
                default_context_window=CONTEXT_WINDOW,
            ),
            llm=ScriptedLLM(fallback=model(steps), summarizer=echo_summary),
            embedder_factory=lambda _n: FakeEmbedder(),
        )
        ids = [runtime.create_agent(AgentSpec(name=f"a{i}")).id for i in range(agents)]
        submitted = [
            runtime.jobs.submit(ids[i % agents], f"job {i}", tenant="default", max_steps=steps * 2)
            for i in range(jobs)
        ]
        pool = WorkerPool(runtime, workers)
        start = time.perf_counter()
        pool.start()
        wait_done(runtime, [j.id for j in submitted])
        seconds = time.perf_counter() - start
        pool.stop()
        finished = runtime.jobs.list(tenant="default", limit=1000)
        total_steps = sum(j.steps for j in finished)
        ok = sum(1 for j in finished if j.status == "succeeded")
        runtime.close()
    assert ok == len(submitted), f"only {ok} of {len(submitted)} jobs succeeded"
    return {
        "mode": "threads",
        "database": "postgresql" if database_url else "sqlite",
        "workers": workers,
        "jobs": jobs,
        "steps": total_steps,
        "seconds": round(seconds, 2),
        "jobs_per_s": round(jobs / seconds, 2),
        "steps_per_s": round(total_steps / seconds, 1),
    }


# -- worker processes ---------------------------------------------------------------------------

JOB_START = re.compile(r"\[Job (job-[0-9a-f]+)\] You are now working")
CALL_ID = re.compile(r"^call_(job-[0-9a-f]+)_([0-9]+)$")


class StubModel:
    """The stub's answers: the step a request is for is read from its last message (the job's
    start prompt: step 1; the tool result of step k, whose call id names the job and k: step
    k + 1). Every (job, step) is recorded. Two jobs of one agent running at once defeat this:
    the agent's history, and so the request, may end with the other job's message."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.calls: Counter[tuple[str, int]] = Counter()
        self.unknown = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        job, step = None, 0
        if last.get("role") == "tool":
            found = CALL_ID.match(last.get("tool_call_id") or "")
            if found:
                job, step = found.group(1), int(found.group(2)) + 1
        elif last.get("role") == "user":
            found = JOB_START.search(str(last.get("content")))
            if found:
                job, step = found.group(1), 1
        with self._lock:
            if job is None:
                self.unknown += 1
            else:
                self.calls[(job, step)] += 1
        if job is None:
            return 200, OpenAIStub.completion("I do not know which job this is.")
        warm = any(WARM_GOAL in str(m.get("content")) for m in messages)
        if warm:
            time.sleep(WARM_STEP_SECONDS)
        last_step = step >= (2 if warm else self.steps)
        name, args = (
            ("complete_job", {"result": "done"})
            if last_step
            else ("report_progress", {"note": f"step {step}"})
        )
        call = {
            "id": f"call_{job}_{step}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        return 200, OpenAIStub.completion(None, [call])


class WorkerProcess:
    """`recalld worker` with a home of its own, its output in a file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            [str(BIN / "recalld"), "worker"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.output()[-4000:]}")
        return "job worker(s)" in self.output()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()  # the current step finishes
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()


@contextmanager
def worker_processes(count: int, env: dict[str, str], home: Path) -> Iterator[list[WorkerProcess]]:
    processes: list[WorkerProcess] = []
    try:
        for n in range(count):
            name = f"worker-{n}"
            processes.append(WorkerProcess(name, env | {"RECALLD_HOME": str(home / name)}, home))
        deadline = time.monotonic() + START_SECONDS
        while not all(p.running() for p in processes):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not start in {START_SECONDS:g}s")
            time.sleep(0.1)
        yield processes
    finally:
        for process in processes:
            process.stop()


def run_processes(
    jobs: int, steps: int, agents: int, processes: int, database_url: str | None, embedding: str
) -> dict:
    """`processes` worker processes on one database, the stub model over HTTP."""
    stub_model = StubModel(steps)
    where = fresh_database(database_url) if database_url else nullcontext(None)
    with (
        where as url,
        tempfile.TemporaryDirectory() as tmp,
        OpenAIStub(responder=stub_model) as stub,
    ):
        home = Path(tmp)
        url = url or f"sqlite:///{home / 'shared.db'}"
        runtime = Runtime(  # submits the jobs and reads the results; runs no turn
            Settings(home=home / "bench", database_url=url, default_embedding=embedding),
            background_indexing=False,
        )
        try:
            env = clean_env(
                RECALLD_DATABASE_URL=url,
                RECALLD_DEFAULT_EMBEDDING=embedding,
                RECALLD_DEFAULT_CONTEXT_WINDOW=str(CONTEXT_WINDOW),
                RECALLD_WORKER_POLL_SECONDS="0.05",
                OPENAI_API_KEY="sk-test",
            )

            def agent(name: str) -> str:
                spec = AgentSpec(
                    name=name,
                    model="openai/stub-model",
                    model_base_url=stub.url,
                    context_window=CONTEXT_WINDOW,
                    embedding=embedding,
                )
                return runtime.create_agent(spec).id

            ids = [agent(f"a{i}") for i in range(agents)]
            with worker_processes(processes, env, home) as workers:
                warm(runtime, [agent(f"warm{i}") for i in range(processes)])
                cpu = CpuUse(workers, urlsplit(url).path.lstrip("/") if database_url else None)
                submitted = [
                    runtime.jobs.submit(
                        ids[i % agents], f"job {i}", tenant="default", max_steps=steps * 2
                    ).id
                    for i in range(jobs)
                ]
                wait_done(runtime, submitted)
                used = cpu.since()
            result = check(runtime, submitted, steps, stub_model)
            per_step = {k: round(v / result["steps"] * 1000, 1) for k, v in used.items()}
            return {
                "mode": "processes",
                "database": "postgresql" if database_url else "sqlite",
                "processes": processes,
                **result,
                "cpu_ms_per_step": per_step,
            }
        finally:
            runtime.close()


class CpuUse:
    """CPU seconds (user + system, from /proc) used since it was made: by the worker processes,
    by this process (which serves the stub model), and by the PostgreSQL backends connected to
    `database` (those alive at the end)."""

    def __init__(self, workers: list[WorkerProcess], database: str | None) -> None:
        self.workers = [w.popen.pid for w in workers]
        self.database = database
        self.before = self._now()

    def _backends(self) -> list[int]:
        if self.database is None:
            return []
        title = f" {self.database} ".encode()  # "postgres: 15/main: postgres bench_x 127.0.0.1(…)"
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and title in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # it ended meanwhile
                continue
        return found

    def _now(self) -> dict[str, dict[int, float]]:
        return {
            "workers": {pid: cpu_seconds(pid) for pid in self.workers},
            "bench_and_stub": {os.getpid(): cpu_seconds(os.getpid())},
            "postgres": {pid: cpu_seconds(pid) for pid in self._backends()},
        }

    def since(self) -> dict[str, float]:
        now = self._now()
        return {
            part: sum(cpu - self.before[part].get(pid, 0.0) for pid, cpu in pids.items())
            for part, pids in now.items()
        }


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def warm(runtime: Runtime, agents: list[str]) -> None:
    """One warm-up job per worker process (each on its own agent), until every process ran one."""
    owners: set[str] = set()
    deadline = time.monotonic() + START_SECONDS
    while len(owners) < len(agents):
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(owners)} of {len(agents)} workers warmed up")
        warmups = [
            runtime.jobs.submit(a, WARM_GOAL, tenant="default", max_steps=4).id for a in agents
        ]
        wait_done(runtime, warmups)
        with Session(runtime.engine) as session:
            steps = session.exec(select(JobEvent).where(col(JobEvent.job_id).in_(warmups)))
            owners |= {e.data["worker"] for e in steps if e.kind == "step"}


def wait_done(runtime: Runtime, ids: list[str], timeout: float = RUN_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with Session(runtime.engine) as session:
            left = session.exec(
                select(Job.id).where(
                    col(Job.id).in_(ids), col(Job.status).in_(["queued", "running"])
                )
            ).all()
        if not left:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(left)} of {len(ids)} jobs not done in {timeout:g}s")
        time.sleep(0.05)


def check(runtime: Runtime, ids: list[str], steps: int, stub_model: StubModel) -> dict:
    """The timing from the database, after asserting each job succeeded exactly once."""
    with Session(runtime.engine) as session:
        jobs = list(session.exec(select(Job).where(col(Job.id).in_(ids))))
        events = list(session.exec(select(JobEvent).where(col(JobEvent.job_id).in_(ids))))
        messages = list(session.exec(select(Message).where(col(Message.turn_id).in_(ids))))
    problems = []
    owners: dict[str, str] = {}
    for job in jobs:
        if (job.status, job.stop_reason, job.steps, job.attempts) != (
            "succeeded",
            "completed",
            steps,
            1,
        ):
            problems.append(f"{job.id}: {job.status} {job.stop_reason} {job.steps} steps")
        mine = [e for e in events if e.job_id == job.id]
        numbered = sorted(e.data["step"] for e in mine if e.kind == "step")
        if numbered != list(range(1, steps + 1)):
            problems.append(f"{job.id}: step events {numbered}")
        ran_on = {e.data["worker"] for e in mine if e.kind == "step"}
        if len(ran_on) != 1:
            problems.append(f"{job.id}: its steps ran on {len(ran_on)} workers")
        owners[job.id] = ran_on.pop() if ran_on else ""
        done = [e for e in mine if e.kind == "status" and e.data.get("status") == "succeeded"]
        if len(done) != 1:
            problems.append(f"{job.id}: {len(done)} succeeded events")
        roles = Counter(m.role for m in messages if m.turn_id == job.id)
        if roles["assistant"] != steps or roles["tool"] != steps:
            problems.append(f"{job.id}: messages {dict(roles)}")
        calls = [stub_model.calls[(job.id, s)] for s in range(1, steps + 1)]
        if calls != [1] * steps:
            problems.append(f"{job.id}: model calls per step {calls}")
    if len(jobs) != len(ids) or stub_model.unknown:
        problems.append(f"{len(jobs)} of {len(ids)} jobs found, {stub_model.unknown} stray calls")
    assert not problems, "\n".join(problems[:20])
    started = min(j.created_at for j in jobs)
    seconds = (max(j.finished_at for j in jobs if j.finished_at) - started).total_seconds()
    total_steps = sum(j.steps for j in jobs)
    return {
        "jobs": len(jobs),
        "steps": total_steps,
        "seconds": round(seconds, 2),
        "jobs_per_s": round(len(jobs) / seconds, 2),
        "steps_per_s": round(total_steps / seconds, 1),
        "jobs_per_worker": sorted(Counter(owners.values()).values()),
    }


def summary(rows: list[dict]) -> list[dict]:
    """Median and range of each configuration's runs."""
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for row in rows:
        count = row.get("processes", row.get("workers"))
        groups.setdefault((row["mode"], row["database"], count), []).append(row)
    out = []
    for (mode, database, count), runs in groups.items():
        jobs_s = [r["jobs_per_s"] for r in runs]
        steps_s = [r["steps_per_s"] for r in runs]
        out.append(
            {
                "mode": mode,
                "database": database,
                "count": count,
                "runs": len(runs),
                "jobs_per_s_median": round(statistics.median(jobs_s), 2),
                "jobs_per_s_range": [min(jobs_s), max(jobs_s)],
                "steps_per_s_median": round(statistics.median(steps_s), 1),
                "steps_per_s_range": [min(steps_s), max(steps_s)],
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--agents", type=int, help="default: 8 for --workers, one a job for --processes"
    )
    parser.add_argument("--workers", type=int, nargs="*", help="worker threads in this process")
    parser.add_argument("--processes", type=int, nargs="*", help="`recalld worker` processes")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql://user@host:port/db): a fresh database per run",
    )
    parser.add_argument("--embedding", default="fake", help="the processes' agents' embedder")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sizes, alternating")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.workers is None and args.processes is None:
        args.workers = [1, 2, 4]
    rows = []
    for _round in range(args.rounds):
        for w in args.workers or []:
            rows.append(run(args.jobs, args.steps, args.agents or 8, w, args.database_url))
            print(json.dumps(rows[-1]), flush=True)
        for p in args.processes or []:
            agents = args.agents or args.jobs
            row = run_processes(args.jobs, args.steps, agents, p, args.database_url, args.embedding)
            rows.append(row)
            print(json.dumps(row), flush=True)
    medians = summary(rows)
    if args.rounds > 1:
        for row in medians:
            print(json.dumps(row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": rows, "summary": medians}, indent=2))


if __name__ == "__main__":
    main()
