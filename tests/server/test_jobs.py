from __future__ import annotations

import json

from starlette.testclient import TestClient

from agent_runtime.jobs.worker import Worker
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import JobEvent


def sse(text: str) -> list[tuple[str, str, dict]]:
    out = []
    for chunk in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        out.append((fields.get("id", ""), fields["event"], json.loads(fields["data"])))
    return out


def test_submit_watch_and_resume_events(
    client: TestClient, runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent_id = client.post("/v1/agents", json={"name": "j"}).json()["id"]
    made = client.post(
        f"/v1/agents/{agent_id}/jobs",
        json={"goal": "write a haiku", "max_steps": 5, "max_duration": "10m"},
    )
    assert made.status_code == 201, made.text
    job = made.json()
    assert job["status"] == "queued" and job["max_duration"] == 600
    fake_llm.reply(report_progress={"note": "drafting"})
    fake_llm.reply(complete_job={"result": "old pond / a frog jumps in / splash"})
    runtime.settings = runtime.settings.with_(worker_poll_seconds=0.01)
    Worker(runtime).run_once()
    done = client.get(f"/v1/jobs/{job['id']}").json()
    assert done["status"] == "succeeded" and done["steps"] == 2
    assert done["result"] == "old pond / a frog jumps in / splash"
    assert done["progress_note"] == "drafting"
    assert set(done["tokens"]) == {"prompt", "completion", "total"}
    events = sse(client.get(f"/v1/jobs/{job['id']}/events").text)
    assert [e[1] for e in events] == ["status", "status", "progress", "step", "step", "status"]
    resumed = sse(
        client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": events[2][0]}).text
    )
    assert [e[0] for e in resumed] == [e[0] for e in events[3:]]
    listed = client.get("/v1/jobs", params={"agent_id": agent_id, "status": "succeeded"}).json()
    assert [j["id"] for j in listed["data"]] == [job["id"]]


def test_cancel_and_validation(client: TestClient) -> None:
    agent_id = client.post("/v1/agents", json={"name": "j"}).json()["id"]
    url = f"/v1/agents/{agent_id}/jobs"
    job = client.post(url, json={"goal": "later", "schedule": "1h"}).json()
    assert job["schedule"] == "1h"
    cancelled = client.post(f"/v1/jobs/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert client.post(url, json={}).json()["error"]["field"] == "goal"
    assert (
        client.post(url, json={"goal": "x", "schedule": "sometimes"}).json()["error"]["field"]
        == "schedule"
    )
    assert client.post(url, json={"goal": "x", "max_steps": 0}).status_code == 422
    assert client.post(url, json={"goal": "x", "max_duration": "soon"}).status_code == 422
    assert client.get("/v1/jobs", params={"status": "weird"}).status_code == 422
    assert client.get("/v1/jobs/job-nope").status_code == 404
    assert client.post("/v1/agents/agent-nope/jobs", json={"goal": "x"}).status_code == 404
    cron = client.post(url, json={"goal": "nightly", "schedule": "0 3 * * *"})
    assert cron.status_code == 201


def test_event_cursors_are_checked_before_the_stream(client: TestClient) -> None:
    agent_id = client.post("/v1/agents", json={"name": "j"}).json()["id"]
    job = client.post(f"/v1/agents/{agent_id}/jobs", json={"goal": "x"}).json()
    url = f"/v1/jobs/{job['id']}/events"
    for params, headers, field in [
        ({"after": "-2401794612162759728"}, {}, "after"),
        ({"after": "9223372036854775808"}, {}, "after"),
        ({"after": "٣"}, {}, "after"),
        ({}, {"Last-Event-ID": "1.5"}, "Last-Event-ID"),
        ({}, {"Last-Event-ID": "-1"}, "Last-Event-ID"),
    ]:
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field


def test_a_failure_inside_the_events_stream_ends_it_with_an_error_event(
    client: TestClient, runtime: Runtime
) -> None:
    agent_id = client.post("/v1/agents", json={"name": "j"}).json()["id"]
    job = client.post(f"/v1/agents/{agent_id}/jobs", json={"goal": "x"}).json()
    real = runtime.jobs.events
    calls: list[int] = []

    def flaky(*args: object, **kwargs: object) -> list[JobEvent]:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    runtime.jobs.events = flaky  # type: ignore[method-assign]
    response = client.get(f"/v1/jobs/{job['id']}/events")
    assert response.status_code == 200
    kinds = [kind for _id, kind, _data in sse(response.text)]
    assert kinds == ["status", "error"]
    assert response.text.endswith(
        '{"error": {"code": "internal", "message": "internal server error"}}\n\n'
    )
