"""`recalld.Client` and `recalld.AsyncClient` against a real `recalld serve` process (the offline
model). Each behaviour runs through both clients (the `api` fixture); each test writes under its
own agent or user, so the tests share one server but not their data."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from live_server import LiveServer

from recalld import (
    ApiError,
    AsyncClient,
    Client,
    ConnectionError,
    Event,
    InvalidRequestError,
    NotFoundError,
    RecalldAPIError,
)
from recalld.calls import SSEDecoder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("recalld-home")
    live = LiveServer(home, RECALLD_ALLOWED_TOOL_URLS="http://127.0.0.1:9/").start()
    yield live
    live.stop()


class Driver:
    """Runs `use(client)` with a sync `Client`, or with an `AsyncClient` in an event loop of its
    own (awaiting the coroutine, or draining the async iterator, that `use` returns)."""

    def __init__(self, url: str, mode: str) -> None:
        self.url = url
        self.mode = mode

    def __call__(self, use: Callable[[Any], Any]) -> Any:
        if self.mode == "sync":
            with Client(self.url) as client:
                answer = use(client)
                return list(answer) if isinstance(answer, Iterator) else answer

        async def run() -> Any:
            async with AsyncClient(self.url) as client:
                answer = use(client)
                if isinstance(answer, AsyncIterator):
                    return [item async for item in answer]
                assert inspect.isawaitable(answer)
                return await answer

        return asyncio.run(run())

    def agent(self) -> str:
        made = self(lambda c: c.create_agent(f"{self.mode}-{uuid.uuid4().hex[:8]}"))
        return str(made["id"])


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, server: LiveServer) -> Driver:
    return Driver(server.url, request.param)


def test_create_an_agent_and_find_it_by_name(api: Driver) -> None:
    name = f"helper-{api.mode}"
    made = api(lambda c: c.create_agent(name, memory="tools"))
    assert made["id"].startswith("agent-") and made["name"] == name
    assert api(lambda c: c.find_agent(name))["id"] == made["id"]
    assert api(lambda c: c.get_agent(made["id"]))["name"] == name


def test_send_a_message_and_read_the_offline_reply(api: Driver) -> None:
    agent_id = api.agent()
    turn = api(lambda c: c.send(agent_id, "My name is Ada"))
    replies = [m["content"] for m in turn["messages"] if m["role"] == "assistant" and m["content"]]
    assert replies == ["Got it, I'll remember that."]
    assert turn["stop_reason"] == "end_turn"


def test_stream_a_message_as_events(api: Driver) -> None:
    agent_id = api.agent()
    events: list[Event] = api(lambda c: c.stream(agent_id, "My name is Ada"))
    kinds = [e.kind for e in events]
    assert kinds[0] == "user_message" and kinds[-1] == "done"
    said = [e.data["content"] for e in events if e.kind == "assistant_message"]
    assert "Got it, I'll remember that." in said
    assert events[-1].data["stop_reason"] == "end_turn"


def test_add_a_fact_and_search_it(api: Driver) -> None:
    user = f"user-{api.mode}"
    written = api(lambda c: c.add_memories([{"text": "Ada keeps bees in Lisbon"}], user_id=user))
    assert [f["text"] for f in written["added"]] == ["Ada keeps bees in Lisbon"]
    hits = api(lambda c: c.search_memories("who keeps bees?", user_id=user))["data"]
    assert hits and hits[0]["text"] == "Ada keeps bees in Lisbon"
    assert hits[0]["user_id"] == user


def test_learn_facts_from_messages_waiting_for_them(api: Driver) -> None:
    user = f"learner-{api.mode}"
    said = [{"role": "user", "content": "I live in Lisbon"}]
    written = api(lambda c: c.add_memories(messages=said, user_id=user, wait=True))
    assert [(f["attribute"], f["value"]) for f in written["added"]] == [("lives_in", "Lisbon")]
    queued = api(lambda c: c.add_memories(messages=said, user_id=user))
    assert queued["id"].startswith("ext-") and queued["status"] in {"queued", "done"}
    assert api(lambda c: c.get_ingestion(queued["id"]))["id"] == queued["id"]


def test_export_an_agent_and_import_it_under_a_new_name(api: Driver) -> None:
    agent_id = api.agent()
    api(lambda c: c.send(agent_id, "My name is Ada"))
    pieces: list[bytes] = api(lambda c: c.export_agent(agent_id))
    document = json.loads(b"".join(pieces))
    copy = f"copy-{uuid.uuid4().hex[:8]}"
    imported = api(lambda c: c.import_agent(document, name=copy))
    assert imported["agent"]["name"] == copy and imported["agent"]["id"] != agent_id
    assert imported["counts"]["messages"] == len(document["messages"]) > 0


def test_a_job_runs_and_its_events_end_with_its_status(api: Driver) -> None:
    agent_id = api.agent()
    job = api(lambda c: c.jobs.submit(agent_id, "Write a short note"))
    events: list[Event] = api(lambda c: c.jobs.events(job["id"]))
    assert events[-1].kind == "status" and events[-1].data["status"] == "succeeded"
    assert "step" in [e.kind for e in events]
    assert api(lambda c: c.jobs.get(job["id"]))["status"] == "succeeded"


def test_a_custom_tool_is_made_attached_changed_and_deleted(api: Driver) -> None:
    agent_id = api.agent()
    name = f"weather_{uuid.uuid4().hex[:6]}"
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    made = api(lambda c: c.tools.create(name, "http://127.0.0.1:9/weather", schema))
    assert made["name"] == name and made["method"] == "POST"
    assert api(lambda c: c.tools.attach(agent_id, name))["id"] == made["id"]
    assert name in [t["name"] for t in api(lambda c: c.tools.list())["data"]]
    edited = api(lambda c: c.tools.edit(made["id"], description="Weather now"))
    assert edited["description"] == "Weather now"
    api(lambda c: c.tools.detach(agent_id, name))
    api(lambda c: c.tools.delete(name))
    with pytest.raises(NotFoundError):
        api(lambda c: c.tools.get(made["id"]))


def test_a_tool_url_the_server_does_not_allow_is_refused(api: Driver) -> None:
    schema = {"type": "object"}
    with pytest.raises(InvalidRequestError):
        api(lambda c: c.tools.create("elsewhere", "http://10.0.0.1/x", schema))
    assert "elsewhere" not in [t["name"] for t in api(lambda c: c.tools.list())["data"]]


def test_an_unknown_agent_is_not_found(api: Driver) -> None:
    with pytest.raises(NotFoundError) as raised:
        api(lambda c: c.get_agent("agent-does-not-exist"))
    assert raised.value.code == "not_found" and raised.value.status == 404
    with pytest.raises(NotFoundError):
        api(lambda c: c.find_agent("nobody-by-this-name"))


def test_bad_input_names_its_field(api: Driver) -> None:
    agent_id = api.agent()
    with pytest.raises(InvalidRequestError) as raised:
        api(lambda c: c.send(agent_id, "hello", max_steps=0))
    assert raised.value.status == 422 and raised.value.field == "max_steps"
    assert isinstance(raised.value, ApiError)  # the CLI's name for the base class


def test_a_streamed_error_answer_raises_before_any_event(api: Driver) -> None:
    with pytest.raises(NotFoundError):
        api(lambda c: c.stream("agent-does-not-exist", "hello"))


def test_one_async_client_through_a_whole_session(server: LiveServer) -> None:
    async def session() -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        async with AsyncClient(server.url) as client:
            agent = await client.create_agent(f"async-{uuid.uuid4().hex[:8]}")
            kinds = [e.kind async for e in client.stream(agent["id"], "My name is Ada")]
            turn, blocks = await asyncio.gather(
                client.send(agent["id"], "What is my name?"), client.list_blocks(agent["id"])
            )
            await client.delete_agent(agent["id"])
            return turn, kinds, blocks

    turn, kinds, blocks = asyncio.run(session())
    assert kinds[-1] == "done" and "assistant_message" in kinds
    assert any("Ada" in m["content"] for m in turn["messages"] if m["role"] == "assistant")
    human = [b["value"] for b in blocks["data"] if b["label"] == "human"]
    assert human and "My name is Ada" in human[0]


def test_an_unreachable_server_is_a_connection_error() -> None:
    with Client("http://127.0.0.1:9") as client, pytest.raises(ConnectionError) as raised:
        client.health()
    assert raised.value.status == 0 and raised.value.code == "unreachable"
    assert isinstance(raised.value, RecalldAPIError)


def test_errors_are_typed_by_status() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        status = int(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(status, json={"error": {"code": "c", "message": "m"}})

    seen = {}
    with Client("http://recalld.test", transport=httpx.MockTransport(answer)) as client:
        for status in (401, 403, 409, 413, 429, 500, 502, 503, 504):
            try:
                client.request("GET", f"/v1/status/{status}")
            except RecalldAPIError as exc:
                seen[status] = type(exc).__name__
    assert seen == {
        401: "AuthenticationError",
        403: "PermissionDeniedError",
        409: "ConflictError",
        413: "InvalidRequestError",
        429: "RateLimitError",
        500: "ServerError",
        502: "ProviderError",
        503: "ServerError",
        504: "ProviderError",
    }


def test_server_sent_events_split_anywhere_decode_the_same() -> None:
    body = b'event: tool_call\r\nid: 7\r\ndata: {"name": "x"}\r\n\r\ndata: {"a": 1}\n\n'
    whole = SSEDecoder()
    expected = [*whole.feed(body), *whole.close()]
    assert expected == [Event("tool_call", {"name": "x"}, "7"), Event("message", {"a": 1})]
    for cut in range(1, len(body)):
        decoder = SSEDecoder()
        assert [*decoder.feed(body[:cut]), *decoder.feed(body[cut:]), *decoder.close()] == expected
