"""A `recalld worker` process killed with SIGKILL mid-job is replaced; the job completes with
exactly the expected side effects. The model is an OpenAI-compatible stub on 127.0.0.1 whose
reply depends only on the committed conversation, like a real model's would."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from live_server import BIN, clean_env
from openai_stub import OpenAIStub
from sqlmodel import Session, select

from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Job, Passage

FACTS = 8


def responder(body: dict) -> tuple[int, dict]:
    if not body.get("tools"):
        return 200, OpenAIStub.completion("summary of earlier work")
    stored = sum(
        1
        for m in body["messages"]
        if m["role"] == "tool" and "stored as passage" in json.dumps(m.get("content"))
    )
    if stored < FACTS:
        name, args = "archival_memory_insert", {"content": f"fact {stored}"}
    else:
        name, args = "complete_job", {"result": f"stored {FACTS} facts"}
    call = {
        "id": f"call_{stored}_{name}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }
    return 200, OpenAIStub.completion(None, [call])


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "recalld"), "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def job_row(runtime: Runtime, job_id: str) -> Job:
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_killed_worker_is_replaced_and_no_step_runs_twice(tmp_path: Path) -> None:
    with OpenAIStub(responder=responder, delay=0.25) as stub:
        runtime = Runtime(Settings(home=tmp_path), embedder_factory=lambda _n: FakeEmbedder())
        agent_id = runtime.create_agent(
            AgentSpec(
                name="crashy",
                model="openai/stub-model",
                model_base_url=stub.url,
                embedding="fake",
            )
        ).id
        job = runtime.jobs.submit(agent_id, f"store {FACTS} facts", tenant="default", max_steps=30)
        env = clean_env(
            RECALLD_HOME=str(tmp_path),
            RECALLD_JOB_LEASE_SECONDS="2",
            RECALLD_WORKER_POLL_SECONDS="0.1",
            OPENAI_API_KEY="sk-test",
        )
        first = start_worker(env)
        deadline = time.monotonic() + 60
        while job_row(runtime, job.id).steps < 3:
            assert time.monotonic() < deadline, first.stderr.read() if first.poll() else "slow"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = job_row(runtime, job.id).steps
        assert job_row(runtime, job.id).status == "running"

        second = start_worker(env)
        try:
            while job_row(runtime, job.id).status == "running":
                assert time.monotonic() < deadline + 60, "the job was not resumed"
                time.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        done = job_row(runtime, job.id)
        assert done.status == "succeeded", done.error
        assert done.result == f"stored {FACTS} facts"
        assert done.attempts == 2 and killed_at < FACTS
        with Session(runtime.engine) as session:
            texts = Counter(p.text for p in session.exec(select(Passage)))
        assert texts == Counter({f"fact {i}": 1 for i in range(FACTS)})  # each exactly once
        events = runtime.jobs.events(job.id, tenant="default")
        steps = [e.data["step"] for e in events if e.kind == "step"]
        assert steps == list(range(1, FACTS + 2))  # no step twice, none skipped
        assert len({e.data["worker"] for e in events if e.kind == "step"}) == 2
        assert second.returncode == 0  # SIGTERM lets the worker finish and exit cleanly
        runtime.close()
