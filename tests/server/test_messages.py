from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from agent_runtime.core.errors import ProviderRateLimited, ProviderTimeout
from agent_runtime.core.settings import Settings
from agent_runtime.llm import ChatRequest, ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from server.app import create_app


def new_agent(client: TestClient, **body: object) -> str:
    return client.post("/v1/agents", json={"name": "m", **body}).json()["id"]


def events(text: str) -> list[tuple[str, dict]]:
    out = []
    for chunk in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_a_turn_returns_messages_stop_reason_and_usage(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client)
    fake_llm.reply(core_memory_append={"label": "human", "content": "Likes tea"})
    fake_llm.reply("Tea it is.")
    response = client.post(
        f"/v1/agents/{agent_id}/messages",
        json={"messages": [{"role": "user", "content": "I like tea"}]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stop_reason"] == "end_turn" and body["steps"] == 2
    kinds = [(m["role"], m.get("tool_calls", [{}])[0].get("name")) for m in body["messages"]]
    assert kinds == [
        ("user", None),
        ("assistant", "core_memory_append"),
        ("tool", None),
        ("assistant", None),
    ]
    assert body["messages"][2]["tool_call_id"] == body["messages"][1]["tool_calls"][0]["id"]
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    block = client.get(f"/v1/agents/{agent_id}/blocks/human").json()
    assert block["value"].endswith("Likes tea")
    history = client.get(f"/v1/agents/{agent_id}/messages").json()["data"]
    assert [m["id"] for m in history] == [m["id"] for m in body["messages"]]
    page = client.get(
        f"/v1/agents/{agent_id}/messages", params={"limit": 2, "before": history[2]["id"]}
    ).json()["data"]
    assert [m["id"] for m in page] == [history[0]["id"], history[1]["id"]]


def test_streaming_sends_an_event_per_message_then_done(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client)
    fake_llm.reply(archival_memory_insert={"content": "Ada's locker is 42"})
    fake_llm.reply("Saved.")
    with client.stream(
        "POST",
        f"/v1/agents/{agent_id}/messages/stream",
        json={"messages": [{"content": "my locker is 42"}]},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    kinds = [k for k, _ in events(text)]
    assert kinds == ["user_message", "tool_call", "tool_result", "assistant_message", "done"]
    done = events(text)[-1][1]
    assert done["stop_reason"] == "end_turn" and done["steps"] == 2


def test_with_tokens_the_stream_carries_each_step_as_it_is_made(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client)
    fake_llm.reply(archival_memory_insert={"content": "Ada's locker is 42"})
    fake_llm.reply("Saved it in your archive, Ada.")
    with client.stream(
        "POST",
        f"/v1/agents/{agent_id}/messages/stream",
        json={"messages": [{"content": "my locker is 42"}], "tokens": True},
    ) as response:
        got = events("".join(response.iter_text()))
    kinds = [k for k, _ in got]
    # Each step's pieces come before that step's committed messages.
    assert kinds[0] == "user_message" and kinds[-1] == "done"
    first_call = kinds.index("tool_call")
    assert set(kinds[1:first_call]) == {"tool_call_delta"}
    call = next(d for k, d in got if k == "tool_call")
    arguments = "".join(d["arguments"] for k, d in got if k == "tool_call_delta")
    assert json.loads(arguments) == json.loads(call["arguments"])
    head = next(d for k, d in got if k == "tool_call_delta")
    assert (head["step"], head["id"], head["name"]) == (0, call["id"], "archival_memory_insert")
    texts = [d for k, d in got if k == "assistant_delta"]
    assert len(texts) > 1 and {d["step"] for d in texts} == {1}
    reply = next(d for k, d in got if k == "assistant_message")
    assert "".join(d["text"] for d in texts) == reply["content"] == "Saved it in your archive, Ada."
    assert kinds.index("assistant_message") > kinds.index("assistant_delta")


def test_without_tokens_the_model_is_not_asked_to_stream(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client)
    fake_llm.reply("plain")
    with client.stream(
        "POST", f"/v1/agents/{agent_id}/messages/stream", json={"messages": [{"content": "hi"}]}
    ) as response:
        kinds = [k for k, _ in events("".join(response.iter_text()))]
    assert "assistant_delta" not in kinds
    assert fake_llm.requests[-1].on_delta is None


def test_stream_errors_arrive_as_an_error_event(client: TestClient, fake_llm: ScriptedLLM) -> None:
    agent_id = new_agent(client)
    fake_llm.push(ProviderTimeout("upstream took too long"))
    with client.stream(
        "POST", f"/v1/agents/{agent_id}/messages/stream", json={"messages": [{"content": "hi"}]}
    ) as response:
        text = "".join(response.iter_text())
    kind, data = events(text)[-1]
    assert kind == "error" and data["error"]["code"] == "provider_timeout"


@pytest.mark.parametrize("tokens", [False, True])
def test_a_client_that_disconnects_does_not_corrupt_the_agent(
    client: TestClient, runtime: Runtime, tokens: bool
) -> None:
    release = threading.Event()

    def slow(request: ChatRequest) -> ChatResponse:
        release.wait(5)
        return ChatResponse(content="finished anyway")

    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=slow)
    agent_id = new_agent(client)
    with client.stream(
        "POST",
        f"/v1/agents/{agent_id}/messages/stream",
        json={"messages": [{"content": "start"}], "tokens": tokens},
    ) as response:
        first = next(response.iter_lines())
        assert first.startswith("id:") or first.startswith("event:")
    release.set()  # the client is gone; the turn still finishes and commits
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        history = client.get(f"/v1/agents/{agent_id}/messages").json()["data"]
        if len(history) == 2:
            break
        time.sleep(0.05)
    assert [m["content"] for m in history] == ["start", "finished anyway"]
    fake = ScriptedLLM().reply("next turn works")
    runtime.services.llm_for = lambda _m: fake
    again = client.post(f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "x"}]})
    assert again.json()["messages"][-1]["content"] == "next turn works"


def test_provider_failures_map_to_gateway_statuses(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client)
    fake_llm.push(ProviderTimeout("slow"), ProviderRateLimited("busy"))
    timeout = client.post(f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "a"}]})
    assert timeout.status_code == 504 and timeout.json()["error"]["code"] == "provider_timeout"
    limited = client.post(f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "b"}]})
    assert limited.status_code == 429


def test_a_busy_agent_answers_409(client: TestClient, runtime: Runtime) -> None:
    release = threading.Event()

    def slow(_request: ChatRequest) -> ChatResponse:
        release.wait(5)
        return ChatResponse(content="done")

    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=slow)
    runtime.settings = runtime.settings.with_(busy_wait_seconds=0.2)
    agent_id = new_agent(client)
    results: list[int] = []
    first = threading.Thread(
        target=lambda: results.append(
            client.post(
                f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "one"}]}
            ).status_code
        )
    )
    first.start()
    time.sleep(0.3)
    busy = client.post(f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "two"}]})
    release.set()
    first.join(10)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "agent_busy"
    assert results == [200]


def test_message_input_is_validated(client: TestClient) -> None:
    agent_id = new_agent(client)
    url = f"/v1/agents/{agent_id}/messages"
    assert client.post(url, json={}).json()["error"]["field"] == "messages"
    assert client.post(url, json={"messages": []}).status_code == 422
    bad_role = client.post(url, json={"messages": [{"role": "tool", "content": "x"}]})
    assert bad_role.status_code == 422 and bad_role.json()["error"]["field"] == "messages[0].role"
    assert client.post(url, json={"messages": ["hi"]}).json()["error"]["field"] == "messages[0]"
    missing = client.post("/v1/agents/agent-nope/messages", json={"messages": [{"content": "x"}]})
    assert missing.status_code == 404
    assert client.get(f"/v1/agents/{agent_id}/messages").json()["data"] == []


def test_more_messages_than_a_send_allows_is_413_naming_the_setting(
    settings: Settings, runtime: Runtime
) -> None:
    runtime.settings = settings.with_(max_messages_per_send=2)  # the runtime decides
    app = create_app(runtime.settings, runtime=runtime, workers=0, extraction=0)
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 1)) as client:
        agent_id = new_agent(client)
        three = {"messages": [{"content": "a"}, {"content": "b"}, {"content": "c"}]}
        for path in ("messages", "messages/stream"):
            response = client.post(f"/v1/agents/{agent_id}/{path}", json=three)
            assert response.status_code == 413, response.text
            error = response.json()["error"]
            assert "limit is 2" in error["message"]
            assert "RECALLD_MAX_MESSAGES_PER_SEND" in error["message"]
        assert client.get(f"/v1/agents/{agent_id}/messages").json()["data"] == []


def test_a_stream_checks_its_input_before_it_starts(client: TestClient) -> None:
    agent_id = new_agent(client)
    url = f"/v1/agents/{agent_id}/messages/stream"
    blank = client.post(url, json={"messages": [{"content": "ok"}, {"content": "   "}]})
    assert blank.status_code == 422 and blank.json()["error"]["field"] == "messages[1].content"
    steps = client.post(url, json={"messages": [{"content": "x"}], "max_steps": 0})
    assert steps.status_code == 422 and steps.json()["error"]["field"] == "max_steps"
    assert client.get(f"/v1/agents/{agent_id}/messages").json()["data"] == []


def test_a_failure_inside_a_stream_ends_it_with_an_error_event(
    client: TestClient, runtime: Runtime
) -> None:
    agent_id = new_agent(client)

    def send(*_args: object, on_message: Any, **_kwargs: object) -> None:
        on_message("message", object())  # not a message row: the stream cannot render it

    runtime.send = send  # type: ignore[assignment]
    with client.stream(
        "POST", f"/v1/agents/{agent_id}/messages/stream", json={"messages": [{"content": "x"}]}
    ) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    assert events(text)[-1] == (
        "error",
        {"error": {"code": "internal", "message": "internal server error"}},
    )


def test_a_send_retried_with_its_idempotency_key_returns_the_saved_turn(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client)
    url = f"/v1/agents/{agent_id}/messages"
    body = {"messages": [{"content": "pay invoice 7"}]}
    fake_llm.reply("paid")
    first = client.post(url, json=body, headers={"Idempotency-Key": "pay-7"}).json()
    again = client.post(url, json=body, headers={"Idempotency-Key": "pay-7"}).json()
    assert first["replayed"] is False and again["replayed"] is True
    assert again["turn_id"] == first["turn_id"] and again["messages"] == first["messages"]
    streamed = client.post(f"{url}/stream", json=body, headers={"Idempotency-Key": "pay-7"})
    kinds = [(kind, data.get("content")) for kind, data in events(streamed.text)]
    assert kinds[:2] == [("user_message", "pay invoice 7"), ("assistant_message", "paid")]
    assert kinds[-1][0] == "done" and events(streamed.text)[-1][1]["replayed"] is True
    assert len(client.get(url).json()["data"]) == 2  # one turn, however often it was sent
    other = client.post(
        url, json={"messages": [{"content": "x"}]}, headers={"Idempotency-Key": "pay-7"}
    )
    assert other.status_code == 409 and other.json()["error"]["field"] == "idempotency_key"
    bad = client.post(url, json=body, headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 422


def test_a_stream_refuses_a_base_url_before_it_starts(client: TestClient, runtime: Runtime) -> None:
    from agent_runtime.storage import keys

    agent_id = new_agent(client, model_base_url="http://10.1.2.3/v1")  # fine without keys
    key = keys.create(runtime.engine, "default")
    response = client.post(
        f"/v1/agents/{agent_id}/messages/stream",
        json={"messages": [{"content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 422, response.text
    assert "RECALLD_ALLOWED_BASE_URLS" in response.json()["error"]["message"]
