"""The OpenAI-compatible endpoints (`server/routes/openai_compat.py`), driven by the official
`openai` package against a real `recalld serve` process with API keys, as a user would. Agents
use the built-in offline model, or an OpenAI stub on loopback where a test needs known replies,
token usage or a provider failure."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from live_server import LiveServer
from openai_stub import OpenAIStub

from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec
from agent_runtime.llm import Delta as Piece
from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys
from agent_runtime.storage.database import make_engine, upgrade
from agent_runtime.storage.tables import Message
from server.routes.openai_compat import Chunks, all_agents

# Read at import: the autouse fixture clears every RECALLD_ variable for the tests themselves.
PG_URL = os.environ.get("RECALLD_TEST_PG_URL", "")
TENANTS = ("acme", "globex")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The server's database settings: SQLite in its home, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield {}
        return
    if not PG_URL:
        pytest.skip("RECALLD_TEST_PG_URL is not set")
    import psycopg

    name = "recalld_oai_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"RECALLD_DATABASE_URL": f"{PG_URL.rsplit('/', 1)[0]}/{name}"}
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as running:
        yield running


@dataclass
class Recalld:
    url: str
    keys: dict[str, str]
    stub: OpenAIStub

    def sdk(self, tenant: str = "acme") -> openai.OpenAI:
        # No retries: a test sees the first answer.
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.keys[tenant], max_retries=0)

    def rest(self, method: str, path: str, tenant: str = "acme", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        response = httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        assert response.is_success, response.text
        return response.json()

    def agent(self, name: str, tenant: str = "acme", **fields: Any) -> dict[str, Any]:
        return self.rest("POST", "/v1/agents", tenant, json={"name": name, **fields})  # type: ignore[no-any-return]

    def stub_agent(self, name: str) -> dict[str, Any]:
        """An agent of the stub's model: replies as queued, 11 + 7 tokens a call. Its memory is
        `tools`, so no background extraction asks the stub too."""
        return self.agent(
            name, model="openai/stub-model", model_base_url=self.stub.url, memory="tools"
        )


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database: dict[str, str], stub: OpenAIStub
) -> Iterator[Recalld]:
    home = tmp_path_factory.mktemp("recalld-home")
    live = LiveServer(home, RECALLD_ALLOWED_BASE_URLS=stub.url, **database)
    # Keys made in the server's database before it starts, as `recalld keys create` does.
    url = Settings(home=home, database_url=database.get("RECALLD_DATABASE_URL")).sqlalchemy_url
    engine = make_engine(url)
    try:
        upgrade(engine)
        made = {tenant: keys.create(engine, tenant) for tenant in TENANTS}
    finally:
        engine.dispose()
    live.start()
    try:
        yield Recalld(live.url, made, stub)
    finally:
        live.stop()


@pytest.fixture
def recalld(server: Recalld) -> Recalld:
    server.stub.replies.clear()
    server.stub.requests.clear()
    return server


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def test_a_completion_is_the_agent_s_turn_with_its_memory(recalld: Recalld) -> None:
    agent = recalld.agent("ada")
    sdk = recalld.sdk()
    first = sdk.chat.completions.create(model="agent/ada", messages=[user("My name is Ada")])
    assert first.object == "chat.completion" and first.model == "agent/ada"
    assert first.id.startswith("chatcmpl-turn-")
    (choice,) = first.choices
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.message.content == "Got it, I'll remember that."
    assert choice.message.tool_calls is None  # core_memory_append stayed inside the turn
    # The client resends the whole conversation, as OpenAI clients do: only the last is new.
    history = [
        {"role": "system", "content": "You are terse."},
        user("My name is Ada"),
        {"role": "assistant", "content": choice.message.content},
        user("What is my name?"),
    ]
    second = sdk.chat.completions.create(model=f"agent/{agent['id']}", messages=history)
    assert second.model == f"agent/{agent['id']}"
    assert "Ada" in (second.choices[0].message.content or "")
    said = recalld.rest("GET", f"/v1/agents/{agent['id']}/messages")["data"]
    inputs = [m["content"] for m in said if m["role"] in ("user", "system")]
    assert inputs == ["My name is Ada", "What is my name?"]


def test_usage_is_the_turn_s_tokens(recalld: Recalld) -> None:
    recalld.stub_agent("counted")
    recalld.stub.reply("Thinking it over.", core_memory_append={"label": "human", "content": "x"})
    recalld.stub.reply("Done.")
    done = recalld.sdk().chat.completions.create(model="agent/counted", messages=[user("hi")])
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (22, 14)  # two calls
    assert done.usage.total_tokens == 36
    assert done.choices[0].message.content == "Thinking it over.\n\nDone."


def test_streamed_chunks_add_up_to_the_same_text(recalld: Recalld) -> None:
    recalld.stub_agent("streamed")
    sdk = recalld.sdk()
    for _ in range(2):  # the same two steps, whole and then streamed
        noted = {"label": "human", "content": "x"}
        recalld.stub.reply("Noting that you like it.", core_memory_append=noted)
        recalld.stub.reply("You like tea.")
    whole = sdk.chat.completions.create(model="agent/streamed", messages=[user("I like tea")])
    stream = sdk.chat.completions.create(
        model="agent/streamed",
        messages=[user("I like tea")],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1 and chunks[0].id != whole.id
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices]
    # The text as the model streamed it (the stub sends three words at a time), not whole.
    assert [p for p in pieces if p] == ["Noting that you ", "like it.", "\n\n", "You like tea."]
    text = "".join(p or "" for p in pieces)
    assert text == whole.choices[0].message.content == "Noting that you like it.\n\nYou like tea."
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 36


def _content(lines: list[str]) -> list[str]:
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines]
    return [c["choices"][0]["delta"].get("content", "") for c in chunks]


def test_a_retry_s_text_is_not_sent_twice() -> None:
    chunks = Chunks("agent/x", 0, include_usage=False)
    asked = Message(agent_id="a", turn_id="t", role="user", content="hi")
    assert _content(chunks.message(asked)) == [""]  # the role delta
    sent = chunks.delta(Piece("text", "Hello the")) + chunks.delta(Piece("restart"))
    # The retry's pieces are not sent: the committed message sends what was not.
    sent += chunks.delta(Piece("text", "Hello there."))
    sent += chunks.message(
        Message(agent_id="a", turn_id="t", role="assistant", content="Hello there.")
    )
    assert _content(sent) == ["Hello the", "re."]
    # A step after a retry that said something else: its text follows, after a blank line.
    sent = chunks.delta(Piece("text", "Let me")) + chunks.delta(Piece("restart"))
    sent += chunks.message(Message(agent_id="a", turn_id="t", role="assistant", content="Sure."))
    assert _content(sent) == ["\n\n", "Let me", "\n\nSure."]


def test_a_turn_stopped_at_max_steps_finishes_with_length(recalld: Recalld) -> None:
    recalld.agent("hasty", max_steps=1)
    # The offline model searches its memory for a question it cannot answer from its context:
    # one step is spent on the tool calls, with no answer.
    stopped = recalld.sdk().chat.completions.create(
        model="agent/hasty", messages=[user("Where did I moor the boat?")]
    )
    assert stopped.choices[0].finish_reason == "length"
    assert stopped.choices[0].message.content == ""


def test_a_failure_after_the_stream_starts_is_raised_by_the_sdk(recalld: Recalld) -> None:
    recalld.stub_agent("failing")
    recalld.stub.fail(400, "model not found")
    stream = recalld.sdk().chat.completions.create(
        model="agent/failing", messages=[user("hello")], stream=True
    )
    received = []
    with pytest.raises(openai.APIError, match="model not found") as raised:
        for chunk in stream:
            received.append(chunk)
    assert [c.choices[0].delta.role for c in received] == ["assistant"]
    body = raised.value.body
    assert isinstance(body, dict) and body["code"] == "provider_bad_request"


def test_models_lists_the_caller_s_agents_only(recalld: Recalld) -> None:
    recalld.agent("listed one")
    recalld.agent("theirs", tenant="globex")
    ours = {m.id: m for m in recalld.sdk().models.list()}
    assert "agent/listed one" in ours and "agent/theirs" not in ours
    assert ours["agent/listed one"].owned_by == "recalld" and ours["agent/listed one"].created > 0
    theirs = [m.id for m in recalld.sdk("globex").models.list()]
    assert theirs == ["agent/theirs"]


def test_models_page_through_every_agent_up_to_the_bound(runtime: Runtime) -> None:
    names = {f"agent {i}" for i in range(5)}
    for name in names:
        runtime.create_agent(AgentSpec(name=name), tenant="acme")
    runtime.create_agent(AgentSpec(name="elsewhere"), tenant="globex")
    assert {a.name for a in all_agents(runtime, "acme", page=2)} == names
    assert len(all_agents(runtime, "acme", page=2, most=3)) == 3


def test_an_unknown_or_foreign_agent_is_not_found(recalld: Recalld) -> None:
    secret = recalld.agent("secret")
    sdk, other = recalld.sdk(), recalld.sdk("globex")
    with pytest.raises(openai.NotFoundError, match="names none of your agents"):
        sdk.chat.completions.create(model="agent/nobody", messages=[user("hi")])
    for model in ("agent/secret", f"agent/{secret['id']}"):
        with pytest.raises(openai.NotFoundError):
            other.chat.completions.create(model=model, messages=[user("hi")])
        with pytest.raises(openai.NotFoundError):  # refused before a stream starts
            other.chat.completions.create(model=model, messages=[user("hi")], stream=True)
    assert recalld.rest("GET", f"/v1/agents/{secret['id']}")["message_count"] == 0


def test_a_model_that_is_no_agent_and_n_over_1_are_refused(recalld: Recalld) -> None:
    recalld.agent("single")
    sdk = recalld.sdk()
    with pytest.raises(openai.UnprocessableEntityError, match="agent/NAME or agent/ID"):
        sdk.chat.completions.create(model="gpt-4o", messages=[user("hi")])
    with pytest.raises(openai.UnprocessableEntityError, match="'n' must be 1"):
        sdk.chat.completions.create(model="agent/single", messages=[user("hi")], n=2)


def test_the_sdk_s_usual_parameters_are_accepted_and_ignored(recalld: Recalld) -> None:
    recalld.stub_agent("tolerant")
    recalld.stub.reply("Fine.")
    done = recalld.sdk().chat.completions.create(
        model="agent/tolerant",
        messages=[user("hi")],
        temperature=0.2,
        top_p=0.9,
        max_tokens=5,
        n=1,
        stop=["\n"],
        seed=7,
        presence_penalty=0.5,
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        tool_choice="auto",
        response_format={"type": "text"},
        user="ada",
    )
    assert done.choices[0].message.content == "Fine."
    sent = recalld.stub.requests[-1]["body"]
    # The agent's own model settings and tools apply, not the client's.
    assert "temperature" not in sent and "seed" not in sent
    assert "lookup" not in {t["function"]["name"] for t in sent["tools"]}


def test_only_new_text_messages_are_taken(recalld: Recalld) -> None:
    recalld.agent("strict")
    sdk = recalld.sdk()
    asked = {"role": "assistant", "content": None, "tool_calls": [_call()]}
    answered = {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    with pytest.raises(openai.UnprocessableEntityError, match="runs its own tools") as tool:
        sdk.chat.completions.create(model="agent/strict", messages=[user("hi"), asked, answered])
    assert tool.value.body["field"] == "messages[2].role"  # type: ignore[index]
    ended = [user("hi"), {"role": "assistant", "content": "hello"}]
    with pytest.raises(openai.UnprocessableEntityError, match="no new message"):
        sdk.chat.completions.create(model="agent/strict", messages=ended)
    with pytest.raises(openai.UnprocessableEntityError, match="content is empty") as blank:
        sdk.chat.completions.create(model="agent/strict", messages=[*ended, user(" ")])
    assert blank.value.body["field"] == "messages[2].content"  # type: ignore[index]
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(openai.UnprocessableEntityError, match="text only"):
        sdk.chat.completions.create(
            model="agent/strict", messages=[{"role": "user", "content": [image]}]
        )
    parts = [{"type": "text", "text": "My name is"}, {"type": "text", "text": "Grace"}]
    sdk.chat.completions.create(model="agent/strict", messages=[{"role": "user", "content": parts}])
    said = recalld.rest("GET", "/v1/agents?name=strict")["data"][0]
    messages = recalld.rest("GET", f"/v1/agents/{said['id']}/messages")["data"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["My name is\nGrace"]


def test_an_idempotency_key_makes_a_retry_replay_the_turn(recalld: Recalld) -> None:
    agent = recalld.agent("retried")
    sdk = recalld.sdk()
    key = {"Idempotency-Key": "chat-1"}
    first = sdk.chat.completions.create(
        model="agent/retried", messages=[user("I like tea")], extra_headers=key
    )
    again = sdk.chat.completions.create(
        model="agent/retried", messages=[user("I like tea")], extra_headers=key, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in again if c.choices)
    assert text == first.choices[0].message.content != ""
    messages = recalld.rest("GET", f"/v1/agents/{agent['id']}/messages")["data"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["I like tea"]


def _call() -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
