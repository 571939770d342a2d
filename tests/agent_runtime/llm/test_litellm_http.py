"""End to end through litellm's real HTTP path against an OpenAI-compatible stub on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

from agent_runtime.core.errors import (
    InvalidInput,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
)
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentPatch, AgentSpec, BlockSpec, Fallback
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm import Delta
from agent_runtime.llm.endpoints import NO_KEY
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


@pytest.fixture
def real_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    rt = Runtime(
        Settings(home=tmp_path), embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex()
    )
    yield rt
    rt.close()


def test_tool_calls_round_trip_over_the_wire(real_runtime: Runtime, stub: OpenAIStub) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(
            name="wire",
            model="openai/gpt-4o-mini",
            model_base_url=stub.url,
            blocks=[BlockSpec("human", "")],
        )
    ).id
    stub.reply(None, core_memory_append={"label": "human", "content": "Name: Ada"})
    stub.reply("Hello Ada!")
    result = real_runtime.send(agent_id, ["My name is Ada"])
    assert result.messages[-1].content == "Hello Ada!"
    assert real_runtime.block(agent_id, "human").value == "Name: Ada"
    assert result.usage.prompt_tokens == 22 and result.usage.completion_tokens == 14
    first, second = stub.requests[0]["body"], stub.requests[1]["body"]
    assert stub.requests[0]["path"].endswith("/chat/completions")
    # The server's OpenAI key is for OpenAI's endpoint: a custom base URL never receives it.
    assert stub.requests[0]["auth"] == f"Bearer {NO_KEY}"
    assert {t["function"]["name"] for t in first["tools"]} >= {"core_memory_append"}
    assert first["messages"][0]["role"] == "system"
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "core_memory_append"
    assert second["messages"][-1]["role"] == "tool"
    assert second["messages"][-1]["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]


def test_a_streamed_reply_arrives_in_pieces_and_is_saved_whole(
    real_runtime: Runtime, stub: OpenAIStub
) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(
            name="wire",
            model="openai/gpt-4o-mini",
            model_base_url=stub.url,
            blocks=[BlockSpec("human", "")],
        )
    ).id
    stub.reply(None, core_memory_append={"label": "human", "content": "Name: Ada"})
    stub.reply("Hello Ada, nice to meet you at last!")
    pieces: list[tuple[int, Delta]] = []
    result = real_runtime.send(
        agent_id, ["My name is Ada"], on_delta=lambda step, d: pieces.append((step, d))
    )
    assert all(r["body"]["stream"] is True for r in stub.requests)
    call = [d for step, d in pieces if step == 0]
    assert {d.kind for d in call} == {"tool_call"} and len(call) == 2
    assert call[0].name == "core_memory_append" and call[0].call_id
    assert json.loads("".join(d.text for d in call)) == {"label": "human", "content": "Name: Ada"}
    text = [d.text for step, d in pieces if step == 1]
    assert len(text) > 1 and "".join(text) == "Hello Ada, nice to meet you at last!"
    # Put together again, the streamed reply is what was saved and acted on.
    assert result.messages[-1].content == "Hello Ada, nice to meet you at last!"
    assert real_runtime.block(agent_id, "human").value == "Name: Ada"
    assert result.usage.prompt_tokens == 22 and result.usage.completion_tokens == 14


def test_a_stream_retried_after_a_failure_voids_what_it_sent(
    real_runtime: Runtime, stub: OpenAIStub
) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(name="wire", model="openai/gpt-4o-mini", model_base_url=stub.url)
    ).id
    stub.fail(503, "overloaded", None, {"Retry-After": "0"})
    stub.reply("second try")
    pieces: list[Delta] = []
    result = real_runtime.send(agent_id, ["hi"], on_delta=lambda _s, d: pieces.append(d))
    assert result.messages[-1].content == "second try"
    # Nothing went out before the failure, so there was nothing to void.
    assert [d.kind for d in pieces] == ["text"] and pieces[0].text == "second try"


def test_provider_errors_are_translated(real_runtime: Runtime, stub: OpenAIStub) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(name="wire", model="openai/gpt-4o-mini", model_base_url=stub.url)
    ).id
    for _ in range(4):  # every attempt the default policy allows
        stub.fail(429, "slow down", "rate_limit_exceeded", {"Retry-After": "0"})
    with pytest.raises(ProviderRateLimited):
        real_runtime.send(agent_id, ["hi"])
    assert len(stub.requests) == 4
    stub.fail(400, "bad tool schema")
    with pytest.raises(ProviderBadRequest):
        real_runtime.send(agent_id, ["hi"])
    assert len(stub.requests) == 5  # a rejected request is not tried again


def test_passing_provider_failures_are_retried_within_the_turn(
    real_runtime: Runtime, stub: OpenAIStub
) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(name="wire", model="openai/gpt-4o-mini", model_base_url=stub.url)
    ).id
    stub.fail(429, "slow down", "rate_limit_exceeded", {"Retry-After": "0"})
    stub.fail(503, "overloaded", None, {"Retry-After": "0"})
    stub.reply("there you are")
    result = real_runtime.send(agent_id, ["hi"])
    assert result.messages[-1].content == "there you are"
    assert len(stub.requests) == 3
    # One user message and one answer: the retries left no trace in the conversation.
    assert [m.role for m in result.messages] == ["user", "assistant"]
    third = stub.requests[2]["body"]["messages"]
    assert [m["content"] for m in third if m["role"] == "user"] == ["hi"]


def test_a_context_overflow_from_the_provider_pages_and_retries(
    real_runtime: Runtime, stub: OpenAIStub
) -> None:
    agent_id = real_runtime.create_agent(
        AgentSpec(name="wire", model="openai/gpt-4o-mini", model_base_url=stub.url)
    ).id
    for i in range(3):
        stub.reply(f"answer {i}")
        real_runtime.send(agent_id, [f"question {i}"])
    stub.fail(
        400,
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9000 tokens.",
        "context_length_exceeded",
    )
    stub.reply("a short summary")  # the summariser
    stub.reply("fits now")
    result = real_runtime.send(agent_id, ["question 3"])
    assert result.messages[-1].content == "fits now"
    assert "a short summary" in stub.requests[-1]["body"]["messages"][0]["content"]


def test_a_key_bound_to_a_prefix_goes_to_that_prefix_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stub: OpenAIStub
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-secret")
    env = {"RECALLD_BASE_URL_KEYS": f"{stub.url}=INTERNAL_LLM_KEY", "INTERNAL_LLM_KEY": "ik-1"}
    settings = Settings.from_env(env, home=tmp_path)
    assert "ik-1" not in repr(settings)
    rt = Runtime(settings, embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex())
    try:
        bound = rt.create_agent(AgentSpec(name="b", model="m", model_base_url=stub.url + "/x"))
        stub.reply("hi")
        rt.send(bound.id, ["hello"])
        assert stub.requests[-1]["auth"] == "Bearer ik-1"
        # A sibling path that merely shares the prefix's characters is not under it.
        other = rt.create_agent(AgentSpec(name="o", model="m", model_base_url=stub.url + "2"))
        stub.reply("hi")
        rt.send(other.id, ["hello"])
        assert stub.requests[-1]["path"].startswith("/v12/")
        assert stub.requests[-1]["auth"] == f"Bearer {NO_KEY}"
    finally:
        rt.close()


def test_with_api_keys_a_base_url_must_be_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stub: OpenAIStub
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-secret")
    settings = Settings.from_env(
        {"RECALLD_ALLOWED_BASE_URLS": "http://127.0.0.1:1/v1"}, home=tmp_path
    )
    rt = Runtime(settings, embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex())
    try:
        # One operator, no keys: any http(s) URL, as for a local Ollama.
        early = rt.create_agent(AgentSpec(name="early", model="m", model_base_url=stub.url))
        keys.create(rt.engine, "acme")
        with pytest.raises(InvalidInput, match="RECALLD_ALLOWED_BASE_URLS"):
            rt.create_agent(AgentSpec(name="x", model="m", model_base_url=stub.url), tenant="acme")
        with pytest.raises(InvalidInput, match="RECALLD_ALLOWED_BASE_URLS"):
            rt.send(early.id, ["hello"])  # made before keys existed: refused at the turn too
        assert stub.requests == []
        rt.create_agent(AgentSpec(name="ok", model="m", model_base_url="http://127.0.0.1:1/v1/"))
    finally:
        rt.close()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://a\x00b/v1", "http://user:pw@host/v1", "ftp://h/", " "]
)
def test_a_base_url_must_be_plain_http(real_runtime: Runtime, url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        real_runtime.create_agent(AgentSpec(name="x", model="m", model_base_url=url))
    assert caught.value.field == "model_base_url"


def test_an_unroutable_model_is_refused_at_create_and_update(real_runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match="litellm can route") as caught:
        real_runtime.create_agent(AgentSpec(name="x", model="nonsense-model"))
    assert caught.value.field == "model"
    agent = real_runtime.create_agent(AgentSpec(name="x", model="openai/gpt-4o-mini"))
    for bad in (" ", "foo/bar", "gpt 4"):
        with pytest.raises(InvalidInput):
            real_runtime.update_agent(agent.id, AgentPatch(model=bad))
    assert real_runtime.get_agent(agent.id).model == "openai/gpt-4o-mini"


def test_a_provider_that_is_down_is_named_with_its_url(real_runtime: Runtime) -> None:
    url = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    agent = real_runtime.create_agent(AgentSpec(name="d", model="openai/m", model_base_url=url))
    with pytest.raises(ProviderError) as caught:
        real_runtime.send(agent.id, ["hi"])
    message = caught.value.message
    assert url in message and "openai" in message
    assert "litellm." not in message and "InternalServerError" not in message


def test_a_job_rides_out_a_passing_outage_and_fails_only_on_a_lasting_one(
    real_runtime: Runtime, stub: OpenAIStub
) -> None:
    from agent_runtime.jobs.worker import Worker

    agent_id = real_runtime.create_agent(
        AgentSpec(name="jobber", model="openai/gpt-4o-mini", model_base_url=stub.url)
    ).id
    real_runtime.settings = real_runtime.settings.with_(worker_poll_seconds=0.02)
    job = real_runtime.jobs.submit(agent_id, "Say done", tenant="default", max_steps=3)
    stub.fail(502, "bad gateway", None, {"Retry-After": "0"})
    stub.reply(None, complete_job={"result": "done"})
    assert Worker(real_runtime).run_once()
    finished = real_runtime.jobs.get(job.id, tenant="default")
    assert finished.status == "succeeded" and finished.result == "done"

    lasting = real_runtime.jobs.submit(agent_id, "Say done again", tenant="default", max_steps=3)
    for _ in range(4):
        stub.fail(503, "down for maintenance", None, {"Retry-After": "0"})
    assert Worker(real_runtime).run_once()
    failed = real_runtime.jobs.get(lasting.id, tenant="default")
    assert failed.status == "failed"
    assert "down for maintenance" in (failed.error or "")
    assert f"at {stub.url}" in (failed.error or "")


def test_a_fallback_on_another_server_answers_when_the_first_is_down(
    real_runtime: Runtime, stub: OpenAIStub
) -> None:
    with OpenAIStub() as spare:
        agent_id = real_runtime.create_agent(
            AgentSpec(
                name="wire",
                model="openai/gpt-4o-mini",
                model_base_url=stub.url,
                fallback_models=[Fallback("openai/spare-model", spare.url)],
                retry_seconds=0,  # no retries: the first failure moves on
            )
        ).id
        stub.fail(503, "overloaded", None, {"Retry-After": "0"})
        spare.reply("the spare answers")
        result = real_runtime.send(agent_id, ["hi"])
        assert result.messages[-1].content == "the spare answers"
        assert len(stub.requests) == 1
        assert spare.requests[0]["body"]["model"] == "spare-model"
        assert spare.requests[0]["body"]["messages"] == stub.requests[0]["body"]["messages"]
        assert [(a["model"], a["outcome"]) for a in result.messages[-1].attempts or []] == [
            ("openai/gpt-4o-mini", "provider_error"),
            ("openai/spare-model", "ok"),
        ]
