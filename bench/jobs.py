"""Job throughput with an instant scripted model. Not part of the test suite.

    .venv/bin/python bench/jobs.py [--jobs 40] [--steps 10] [--agents 8] [--workers 1 2 4]

Each job takes `--steps` steps (report_progress, then complete_job on the last). Jobs are spread
over `--agents` agents and run by in-process worker threads sharing one SQLite database.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.jobs.worker import WorkerPool  # noqa: E402
from agent_runtime.llm import ChatRequest, ChatResponse  # noqa: E402
from agent_runtime.llm.scripted import ScriptedLLM, echo_summary  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402


def model(steps: int):  # type: ignore[no-untyped-def]
    calls = ScriptedLLM()

    def reply(request: ChatRequest) -> ChatResponse:
        # every job on an agent adds `steps` tool results, so this counts the current job's steps
        progress = sum(1 for m in request.messages if m["role"] == "tool")
        if progress % steps == steps - 1:
            return ChatResponse(tool_calls=[calls.call("complete_job", {"result": "done"})])
        return ChatResponse(tool_calls=[calls.call("report_progress", {"note": "working"})])

    return reply


def run(jobs: int, steps: int, agents: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        runtime = Runtime(
            Settings(home=Path(home), worker_poll_seconds=0.01, default_context_window=100_000),
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
        while True:
            left = [
                j
                for j in runtime.jobs.list(tenant="default", limit=1000)
                if j.status in ("queued", "running")
            ]
            if not left:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        pool.stop()
        finished = runtime.jobs.list(tenant="default", limit=1000)
        total_steps = sum(j.steps for j in finished)
        ok = sum(1 for j in finished if j.status == "succeeded")
        runtime.close()
    assert ok == len(submitted), f"only {ok} of {len(submitted)} jobs succeeded"
    return {
        "workers": workers,
        "jobs": jobs,
        "steps": total_steps,
        "seconds": round(seconds, 2),
        "jobs_per_s": round(jobs / seconds, 2),
        "steps_per_s": round(total_steps / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [run(args.jobs, args.steps, args.agents, w) for w in args.workers]
    for row in rows:
        print(row)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
