"""Fallback models and the attempts of a step, over REST."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from agent_runtime.core.errors import ProviderError, ProviderTimeout
from agent_runtime.jobs.worker import Worker
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime


@pytest.fixture
def spare(runtime: Runtime, fake_llm: ScriptedLLM) -> ScriptedLLM:
    """The model named "spare"; every other name is the scripted `fake_llm`."""
    model = ScriptedLLM()
    runtime.services.llm_for = lambda name: model if name == "spare" else fake_llm
    return model


def test_fallbacks_are_set_shown_and_replaced(client: TestClient) -> None:
    created = client.post(
        "/v1/agents",
        json={
            "name": "f",
            "fallback_models": ["spare", {"model": "other", "base_url": None}],
            "retry_seconds": 2.5,
        },
    )
    assert created.status_code == 201, created.text
    agent = created.json()
    assert agent["fallback_models"] == [
        {"model": "spare", "base_url": None},
        {"model": "other", "base_url": None},
    ]
    assert agent["retry_seconds"] == 2.5
    patched = client.patch(f"/v1/agents/{agent['id']}", json={"fallback_models": []}).json()
    assert patched["fallback_models"] == [] and patched["retry_seconds"] == 2.5
    plain = client.post("/v1/agents", json={"name": "plain"}).json()
    assert plain["fallback_models"] == [] and plain["retry_seconds"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fallback_models": ["a", "b", "c", "d"]}, "fallback_models"),
        ({"fallback_models": [""]}, "fallback_models"),
        ({"fallback_models": [{"model": "m", "colour": "blue"}]}, "fallback_models"),
        ({"fallback_models": [{"model": "m", "base_url": "file:///etc"}]}, "fallback_models"),
        ({"retry_seconds": -1}, "retry_seconds"),
        ({"retry_seconds": 601}, "retry_seconds"),
    ],
)
def test_bad_fallbacks_are_422_and_create_nothing(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/agents", json={"name": "bad", **body})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].startswith(field)
    assert client.get("/v1/agents").json()["data"] == []


def test_a_reply_shows_the_attempts_behind_it(
    client: TestClient, fake_llm: ScriptedLLM, spare: ScriptedLLM
) -> None:
    agent_id = client.post("/v1/agents", json={"name": "f", "fallback_models": ["spare"]}).json()[
        "id"
    ]
    fake_llm.push(ProviderError("the primary is down"))
    spare.reply("spare here")
    body = client.post(
        f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "hi"}]}
    ).json()
    reply = body["messages"][-1]
    assert reply["content"] == "spare here"
    assert [(a["model"], a["outcome"]) for a in reply["attempts"]] == [
        ("offline", "provider_error"),
        ("spare", "ok"),
    ]
    assert "the primary is down" in reply["attempts"][0]["error"]
    assert "attempts" not in body["messages"][0]  # the user's message made no call
    history = client.get(f"/v1/agents/{agent_id}/messages").json()["data"]
    assert history[-1]["attempts"] == reply["attempts"]


def test_a_failed_input_is_listed_as_failed_then_taken_over_by_its_resend(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = client.post("/v1/agents", json={"name": "f"}).json()["id"]
    fake_llm.push(ProviderTimeout("slow"))
    send = {"messages": [{"content": "hi"}]}
    assert client.post(f"/v1/agents/{agent_id}/messages", json=send).status_code == 504
    (held,) = client.get(f"/v1/agents/{agent_id}/messages").json()["data"]
    assert held["failed"] is True and held["attempts"][0]["outcome"] == "provider_timeout"
    fake_llm.reply("hello")
    again = client.post(f"/v1/agents/{agent_id}/messages", json=send).json()
    assert again["messages"][0]["id"] == held["id"]
    assert "failed" not in again["messages"][0]
    history = client.get(f"/v1/agents/{agent_id}/messages").json()["data"]
    assert [(m["content"], m.get("failed", False)) for m in history] == [
        ("hi", False),
        ("hello", False),
    ]


def test_a_jobs_step_events_carry_the_attempts(
    client: TestClient, runtime: Runtime, fake_llm: ScriptedLLM, spare: ScriptedLLM
) -> None:
    agent_id = client.post("/v1/agents", json={"name": "j", "fallback_models": ["spare"]}).json()[
        "id"
    ]
    job = client.post(f"/v1/agents/{agent_id}/jobs", json={"goal": "finish", "max_steps": 3})
    fake_llm.push(ProviderError("down"))
    spare.reply(complete_job={"result": "done by the spare"})
    runtime.settings = runtime.settings.with_(worker_poll_seconds=0.01)
    Worker(runtime).run_once()
    job_id = job.json()["id"]
    assert client.get(f"/v1/jobs/{job_id}").json()["result"] == "done by the spare"
    text = client.get(f"/v1/jobs/{job_id}/events").text
    steps = [
        json.loads(chunk.split("data: ", 1)[1])
        for chunk in text.strip().split("\n\n")
        if "event: step" in chunk
    ]
    assert [a["model"] for a in steps[0]["attempts"]] == ["offline", "spare"]
