"""Scale-out, for real: two `recalld serve` replicas and a `recalld worker` on one PostgreSQL
database and one Chroma server (tests/scale/conftest.py), each a process of its own, with an
OpenAI-compatible stub model on 127.0.0.1 whose reply depends only on the request.

What holds across processes: one turn at a time per agent, a job run by one worker, a replica
killed mid-turn losing nothing, vectors written by one replica found by the other, and each row
embedded by one process only, its vectors in the shared index exactly once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from openai_stub import OpenAIStub

import tests.conftest as root

if TYPE_CHECKING:
    from tests.scale.conftest import Deployment, Replica

pytestmark = [
    pytest.mark.pg,
    pytest.mark.skipif(not root.PG_URL, reason="RECALLD_TEST_PG_URL is not set"),
]

TURNS = 8  # sent at once, half through each replica
FACTS = 3  # archival passages each job stores
WAIT_SECONDS = 30.0  # for anything the deployment does in the background
EMBEDDING_MODEL = "openai/stub-embedding"  # the deployment's embeddings stub serves it
DIMENSION_PROBE = "dimension probe"  # what a remote embedder embeds first, once per process


def last_user(body: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


def echo(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, OpenAIStub.completion(f"reply to: {last_user(body)}")


def call(call_id: str, name: str, **arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def create_agent(replica: Replica, name: str, stub: OpenAIStub | None = None, **extra: str) -> str:
    body: dict[str, Any] = {"name": name, "memory": "tools", **extra}
    if stub is not None:
        body |= {"model": "openai/stub-model", "model_base_url": stub.url}
    made = replica.client.post("/v1/agents", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def send(replica: Replica, agent_id: str, text: str) -> httpx.Response:
    message = {"messages": [{"role": "user", "content": text}]}
    return replica.client.post(f"/v1/agents/{agent_id}/messages", json=message)


def history(replica: Replica, agent_id: str) -> list[dict[str, Any]]:
    listed = replica.client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 200})
    assert listed.status_code == 200, listed.text
    return list(listed.json()["data"])


def said(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in messages]


def wait_indexed(replica: Replica, agent_id: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        status = replica.client.get(f"/v1/agents/{agent_id}/index").json()
        assert status["parked_rows"] == 0 and status["last_error"] is None, status
        if status["pending_rows"] == 0:
            return
        assert time.monotonic() < deadline, f"rows still pending: {status}"
        time.sleep(0.1)


def doctor(replica: Replica, agent_id: str) -> dict[str, dict[str, Any]]:
    """The agent's collections against its rows, by kind (passage, message)."""
    found = replica.client.post(f"/v1/agents/{agent_id}/doctor", json={})
    assert found.status_code == 200, found.text
    return {f["kind"]: f for f in found.json()["findings"]}


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_turns_sent_at_once_through_both_replicas_never_interleave(
    deployment: Deployment,
) -> None:
    with OpenAIStub(responder=echo, delay=0.3) as stub:
        agent_id = create_agent(deployment.a, "serial", stub)
        sends = [(deployment.replicas[i % 2], f"message {i}") for i in range(TURNS)]
        with ThreadPoolExecutor(TURNS) as pool:
            responses = list(pool.map(lambda s: send(s[0], agent_id, s[1]), sends))
        model_calls = len(stub.requests)
    statuses = Counter(r.status_code for r in responses)
    failed = [r.text for r in responses if r.status_code not in (200, 409)]
    assert not failed, (statuses, failed, deployment.logs())
    for response in responses:
        if response.status_code == 409:  # waited its bounded while, then refused cleanly
            assert response.json()["error"]["code"] == "agent_busy", response.text
    accepted = [text for (_, text), r in zip(sends, responses, strict=True) if r.status_code == 200]
    assert accepted
    for (_, text), response in zip(sends, responses, strict=True):
        if response.status_code == 200:
            turn = said(response.json()["messages"])
            assert turn == [("user", text), ("assistant", f"reply to: {text}")]
    assert model_calls == len(accepted)  # a refused turn never reached the model

    messages = history(deployment.b, agent_id)
    assert len(messages) == 2 * len(accepted), said(messages)
    pairs = [messages[i : i + 2] for i in range(0, len(messages), 2)]
    assert sorted(user["content"] for user, _ in pairs) == sorted(accepted)
    for user, reply in pairs:  # each input followed by its own reply, in the same turn
        assert user["role"] == "user" and reply["role"] == "assistant"
        assert reply["content"] == f"reply to: {user['content']}"
        assert reply["turn_id"] == user["turn_id"]
    assert len({user["turn_id"] for user, _ in pairs}) == len(pairs)


def job_steps(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Store FACTS passages, one a step, then complete: decided by the committed conversation."""
    stored = sum(
        1
        for m in body["messages"]
        if m["role"] == "tool" and "stored as passage" in json.dumps(m.get("content"))
    )
    if stored < FACTS:
        step = call(f"call_{stored}", "archival_memory_insert", content=f"fact {stored}")
    else:
        step = call("call_done", "complete_job", result=f"stored {FACTS} facts")
    return 200, OpenAIStub.completion(None, [step])


def test_each_job_is_run_by_one_worker_and_its_side_effects_happen_once(
    deployment: Deployment,
) -> None:
    """Three processes poll for jobs (a worker thread in each replica and the worker); two jobs
    submitted through different replicas each run once, in one worker."""
    with OpenAIStub(responder=job_steps, delay=0.05) as stub:
        jobs = {}
        for replica, name in zip(deployment.replicas, ["jobber-a", "jobber-b"], strict=True):
            agent_id = create_agent(replica, name, stub)
            made = replica.client.post(
                f"/v1/agents/{agent_id}/jobs", json={"goal": f"store {FACTS} facts"}
            )
            assert made.status_code == 201, made.text
            jobs[made.json()["id"]] = agent_id
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            done = {j: deployment.b.client.get(f"/v1/jobs/{j}").json() for j in jobs}
            if all(job["status"] not in ("queued", "running") for job in done.values()):
                break
            assert time.monotonic() < deadline, (done, deployment.logs())
            time.sleep(0.1)
        model_calls = len(stub.requests)
    assert model_calls == len(jobs) * (FACTS + 1)  # no step asked the model twice
    for job_id, agent_id in jobs.items():
        job = done[job_id]
        assert job["status"] == "succeeded", (job, deployment.logs())
        assert job["result"] == f"stored {FACTS} facts"
        assert job["attempts"] == 1 and job["steps"] == FACTS + 1
        events = sse(deployment.a.client.get(f"/v1/jobs/{job_id}/events").text)
        steps = [data["step"] for kind, data in events if kind == "step"]
        assert steps == list(range(1, FACTS + 2))  # none twice, none skipped
        runners = {data["worker"] for _kind, data in events if "worker" in data}
        assert len(runners) == 1, events  # claimed once, every step by its claimant
        passages = deployment.a.client.get(f"/v1/agents/{agent_id}/archival").json()["data"]
        assert Counter(p["text"] for p in passages) == Counter(
            {f"fact {i}": 1 for i in range(FACTS)}
        )


DOOMED = "store a fact, then wait"
KEPT = "kept from the killed turn"


def test_a_replica_killed_mid_turn_loses_nothing_and_the_other_serves_the_agent(
    deployment: Deployment,
) -> None:
    """The killed turn's first step (a passage stored) is committed; its second step, whose
    model call was in flight, leaves nothing. The other replica then serves the agent at once
    and indexes what the killed one left pending."""
    in_flight, released = threading.Event(), threading.Event()

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body["messages"][-1]["role"] == "tool":  # the killed turn's second step
            in_flight.set()
            released.wait(WAIT_SECONDS)
            return 200, OpenAIStub.completion("too late: my replica is gone")
        if last_user(body) == DOOMED:
            return 200, OpenAIStub.completion(
                None, [call("call_kept", "archival_memory_insert", content=KEPT)]
            )
        return echo(body)

    doomed = deployment.replica("replica-doomed")
    with OpenAIStub(responder=responder) as stub:
        agent_id = create_agent(deployment.b, "survivor", stub)
        outcome: list[object] = []

        def doomed_turn() -> None:
            try:
                outcome.append(send(doomed, agent_id, DOOMED))
            except httpx.TransportError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=doomed_turn)
        thread.start()
        try:
            assert in_flight.wait(WAIT_SECONDS), doomed.output()
            doomed.kill()
        finally:
            released.set()
            thread.join(WAIT_SECONDS)
        assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError), outcome

        before = history(deployment.b, agent_id)
        assert [(m["role"], [c["name"] for c in m.get("tool_calls", [])]) for m in before] == [
            ("user", []),
            ("assistant", ["archival_memory_insert"]),
            ("tool", []),
        ]  # after the first step, before the second
        # The killed replica still holds the agent's lease (for RECALLD_LEASE_SECONDS), but its
        # pid is gone from this host: the first request finds the lease free.
        after = send(deployment.b, agent_id, "after the crash")
        assert after.status_code == 200, (after.text, deployment.logs())
        assert len(stub.requests) == 3  # the killed turn's two steps, and this one

    messages = history(deployment.a, agent_id)
    assert messages[:3] == before
    assert said(messages[3:]) == [
        ("user", "after the crash"),
        ("assistant", "reply to: after the crash"),
    ]
    agent = deployment.a.client.get(f"/v1/agents/{agent_id}").json()
    assert agent["message_count"] == len(messages) and agent["passage_count"] == 1
    passages = deployment.a.client.get(f"/v1/agents/{agent_id}/archival").json()["data"]
    assert [p["text"] for p in passages] == [KEPT]
    wait_indexed(deployment.b, agent_id)  # what the killed replica left pending, indexed
    assert all(f["healthy"] for f in doctor(deployment.a, agent_id).values())


LIBRARY = [
    "The cat sat on the warm windowsill all afternoon.",
    "Quarterly revenue grew twelve percent on strong cloud sales.",
    "The hiking trail climbs through pine forest to a glacier lake.",
    "She practised the cello every evening before dinner.",
]


def test_a_search_through_one_replica_finds_by_meaning_what_the_other_wrote(
    deployment: Deployment,
) -> None:
    """Passages inserted (and indexed) through one replica are found by the other with no word
    in common: only the shared Chroma server's vectors can find them. The two replicas write
    one after the other, each once the other's rows are indexed, so that neither indexes the
    other's rows itself."""
    a, b = deployment.replicas
    agent_id = create_agent(a, "librarian")
    for writer, texts in [(a, LIBRARY[0::2]), (b, LIBRARY[1::2])]:
        for text in texts:
            inserted = writer.client.post(f"/v1/agents/{agent_id}/archival", json={"text": text})
            assert inserted.status_code == 201, inserted.text
        wait_indexed(writer, agent_id)
    for replica, query, expected in [
        (b, "kitten dozing near glass", LIBRARY[0]),  # written through a
        (a, "how much did earnings increase", LIBRARY[1]),  # written through b
    ]:
        found = replica.client.get(f"/v1/agents/{agent_id}/archival", params={"query": query})
        assert found.status_code == 200, found.text
        hits = [h["text"] for h in found.json()["data"]]
        assert hits and hits[0] == expected, (query, hits)


@dataclass(frozen=True)
class Indexed:
    agent_id: str
    findings: dict[str, dict[str, Any]]  # the doctor's, by kind
    embedded: Counter[str]  # every text the agent's embedding model was asked for, any process


@pytest.fixture(scope="module")
def indexed(deployment: Deployment) -> Indexed:
    """Turns and passages written through both replicas in turn, for an agent whose embedding
    model is the deployment's embeddings stub, which sees every text any process embeds."""
    with OpenAIStub(responder=echo, delay=0.3) as stub:
        agent_id = create_agent(deployment.a, "indexed", stub, embedding=EMBEDDING_MODEL)
        for i in range(6):
            writer, other = deployment.replicas[i % 2], deployment.replicas[1 - i % 2]
            turn = send(writer, agent_id, f"indexed turn {i}")
            assert turn.status_code == 200, turn.text
            note = other.client.post(
                f"/v1/agents/{agent_id}/archival", json={"text": f"indexed note {i}"}
            )
            assert note.status_code == 201, note.text
    wait_indexed(deployment.b, agent_id)
    embedded = Counter(
        text
        for request in deployment.embeddings.requests
        for text in request["body"]["input"]
        if text != DIMENSION_PROBE
    )
    return Indexed(agent_id, doctor(deployment.a, agent_id), embedded)


def test_rows_written_through_both_replicas_are_indexed_once(indexed: Indexed) -> None:
    findings = indexed.findings
    assert {kind: f["rows"] for kind, f in findings.items()} == {"passage": 6, "message": 12}
    assert all(f["healthy"] for f in findings.values()), findings  # none missing, none extra
    assert {kind: f["vectors"] for kind, f in findings.items()} == {"passage": 6, "message": 12}


def test_no_row_is_embedded_by_two_replicas(indexed: Indexed) -> None:
    twice = {text: n for text, n in indexed.embedded.items() if n > 1}
    assert not twice, f"embedded more than once: {twice}"
    assert sum(indexed.embedded.values()) == sum(f["vectors"] for f in indexed.findings.values())
