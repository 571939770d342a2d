"""A `recalld worker` killed with SIGKILL in the middle of a fact extraction loses nothing and
writes nothing twice: its batch waits out the lease and is extracted once, elsewhere."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

from live_server import BIN, clean_env
from openai_stub import OpenAIStub
from sqlmodel import Session, select

from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Extraction, Fact

RELEASE = threading.Event()  # the stub holds extraction answers until the test says so


def responder(body: dict) -> tuple[int, dict]:
    if not any(t["function"]["name"] == "record_facts" for t in body.get("tools", [])):
        return 200, OpenAIStub.completion("ok")
    RELEASE.wait(30)
    facts = {
        "facts": [
            {
                "text": "The user lives in Porto",
                "subject": "user",
                "attribute": "lives_in",
                "value": "Porto",
                "kind": "fact",
                "cardinality": "single",
                "message": 0,
            }
        ]
    }
    call = {
        "id": "call_x",
        "type": "function",
        "function": {"name": "record_facts", "arguments": json.dumps(facts)},
    }
    return 200, OpenAIStub.completion(None, [call])


def extraction_requests(stub: OpenAIStub) -> int:
    return sum(
        1
        for r in stub.requests
        if any(t["function"]["name"] == "record_facts" for t in r["body"].get("tools", []))
    )


def test_a_worker_killed_mid_extraction_loses_nothing_and_writes_once(tmp_path: Path) -> None:
    with OpenAIStub(responder=responder) as stub:
        runtime = Runtime(
            Settings(home=tmp_path, extraction_lease_seconds=2),
            embedder_factory=lambda _n: FakeEmbedder(),
        )
        agent = runtime.create_agent(
            AgentSpec(
                name="a", model="openai/stub-model", model_base_url=stub.url, embedding="fake"
            )
        ).id
        runtime.send(agent, ["I live in Porto"])
        env = clean_env(
            RECALLD_HOME=str(tmp_path),
            RECALLD_EXTRACTION_LEASE_SECONDS="2",
            RECALLD_WORKER_POLL_SECONDS="0.1",
            OPENAI_API_KEY="sk-test",
        )
        worker = subprocess.Popen(
            [str(BIN / "recalld"), "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while extraction_requests(stub) == 0:  # the worker is inside the model call
                assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
                assert time.monotonic() < deadline, "the worker never extracted"
                time.sleep(0.05)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        with Session(runtime.engine) as session:
            [row] = session.exec(select(Extraction)).all()
            assert row.status == "running" and row.attempts == 1  # claimed, then orphaned
            assert session.exec(select(Fact)).all() == []
        RELEASE.set()
        deadline = time.monotonic() + 30
        while runtime.pipeline.run_once() is None:  # once its lease has lapsed
            assert time.monotonic() < deadline, "the orphaned batch was never taken over"
            time.sleep(0.2)
        with Session(runtime.engine) as session:
            [row] = session.exec(select(Extraction)).all()
            facts = session.exec(select(Fact)).all()
        assert row.status == "done" and row.attempts == 2
        assert [(f.attribute, f.value) for f in facts] == [("lives_in", "Porto")]
        runtime.close()
