from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from agent_runtime.core.limits import MAX_JSON_DEPTH
from agent_runtime.core.settings import Settings
from agent_runtime.runtime import Runtime
from server.app import create_app

JSON = {"content-type": "application/json"}


def new_agent(client: TestClient) -> str:
    response = client.post("/v1/agents", json={"name": "p"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def small(settings: Settings, runtime: Runtime) -> Iterator[TestClient]:
    """A server whose bodies are capped at 2 KiB."""
    app = create_app(settings.with_(max_body_bytes=2048), runtime=runtime, workers=0, extraction=0)
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as client:
        yield client


def test_a_body_over_the_limit_is_413_naming_the_setting(small: TestClient) -> None:
    big = {"name": "x", "system": "y" * 4000}
    response = small.post("/v1/agents", json=big)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "limit_exceeded"
    assert "2048 bytes" in error["message"] and "RECALLD_MAX_BODY_BYTES" in error["message"]


def test_a_body_without_content_length_is_cut_off_while_reading(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to judge by
        yield b'{"name": "x", "system": "'
        for _ in range(1000):
            yield b"y" * 1024
        yield b'"}'

    response = small.post("/v1/agents", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert "RECALLD_MAX_BODY_BYTES" in response.json()["error"]["message"]
    assert small.get("/v1/agents").json()["data"] == []


def test_json_nested_too_deep_is_422(client: TestClient) -> None:
    for depth in (MAX_JSON_DEPTH + 1, 5_000):  # past ~1000 the json module itself gives up
        body = b'{"name": "x", "blocks": ' + b"[" * depth + b"]" * depth + b"}"
        response = client.post("/v1/agents", content=body, headers=JSON)
        assert response.status_code == 422, response.text
        assert f"deeper than {MAX_JSON_DEPTH} levels" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/messages", b'{"messages": [{"content": "hi \\ud800"}]}', "messages[0].content"),
        ("/archival", b'{"text": "a\\udfffb"}', "text"),
        ("/archival", b'{"text": "ok", "tags": ["fine", "\\ud83d"]}', "tags[1]"),
        ("/recall", b'{"messages": [{"role": "user", "content": "\\ud800"}]}', None),
        ("/blocks/human", b'{"value": "\\udc00"}', "value"),
        ("/jobs", b'{"goal": "\\ud800"}', "goal"),
        ("", b'{"system": "\\ud800"}', "system"),
        ("/archival", b'{"text": "nul \\u0000 here"}', "text"),
    ],
)
def test_a_lone_surrogate_or_nul_in_any_string_is_422(
    client: TestClient, path: str, body: bytes, field: str | None
) -> None:
    agent_id = new_agent(client)
    method = client.patch if path in ("", "/blocks/human") else client.post
    response = method(f"/v1/agents/{agent_id}{path}", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "not valid text" in error["message"]
    assert error["field"] == (field or "messages[0].content")
    assert client.get(f"/v1/agents/{agent_id}/archival").json()["data"] == []


def test_a_lone_surrogate_in_a_field_name_names_its_object(client: TestClient) -> None:
    response = client.post("/v1/blocks", content=b'{"label": "x", "\\ud800": 1}', headers=JSON)
    assert response.status_code == 422 and "field name" in response.json()["error"]["message"]


def test_not_a_json_object_and_json_constants_are_422(client: TestClient) -> None:
    for body in (b"[1, 2]", b'"text"', b'{"name": "x", "context_window": NaN}', b"\xff\xfe{"):
        response = client.post("/v1/agents", content=body, headers=JSON)
        assert response.status_code == 422, body


def test_errors_name_the_field_where_it_is(client: TestClient) -> None:
    agent_id = new_agent(client)
    items = [{"role": "user", "content": "fine"}] * 3 + [{"role": "user", "content": 7}]
    response = client.post(f"/v1/agents/{agent_id}/recall", json={"messages": items})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_input",
        "message": "messages[3]: 'content' must be a string",
        "field": "messages[3].content",
    }
    strict = client.post("/v1/agents", json={"name": "x", "max_steps": "5"})
    assert strict.json()["error"]["field"] == "max_steps"  # no "5" for 5 in a body
    flag = client.post("/v1/agents", json={"name": "x", "max_steps": True})
    assert flag.json()["error"]["field"] == "max_steps"
    nested = client.post("/v1/agents", json={"name": "x", "blocks": [{"label": "a", "limit": 0}]})
    assert nested.json()["error"]["field"] == "blocks[0].limit"
    assert "at least 1" in nested.json()["error"]["message"]


@pytest.mark.parametrize(
    "suffix",
    [
        "/archival/9223372036854775808",
        "/archival/-1",
        "/archival/%D9%A3",  # Arabic-Indic three: int() would read 3
        "/archival/+3",
        "/archival/3.0",
    ],
)
def test_a_passage_id_is_ascii_digits_within_64_bits(client: TestClient, suffix: str) -> None:
    agent_id = new_agent(client)
    for i in range(3):
        client.post(f"/v1/agents/{agent_id}/archival", json={"text": f"passage {i}"})
    response = client.delete(f"/v1/agents/{agent_id}{suffix}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "passage_id"
    assert len(client.get(f"/v1/agents/{agent_id}/archival").json()["data"]) == 3


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/messages", {"after": "-2401794612162759728"}, "after"),
        ("/messages", {"before": "9223372036854775808"}, "before"),
        ("/messages", {"limit": "٣"}, "limit"),
        ("/archival", {"after": "99999999999999999999999"}, "after"),
        ("/archival", {"query": "x", "offset": "-1"}, "offset"),
        ("/recall", {"query": "x", "limit": "1e3"}, "limit"),
    ],
)
def test_numbers_in_queries_are_ascii_digits_within_bounds(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    agent_id = new_agent(client)
    response = client.get(f"/v1/agents/{agent_id}{path}", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_nul_in_a_query_or_path_is_422(client: TestClient) -> None:
    agent_id = new_agent(client)
    search = client.get(f"/v1/agents/{agent_id}/archival", params={"query": "a\x00b"})
    assert search.status_code == 422 and search.json()["error"]["field"] == "query"
    assert client.get("/v1/agents/a%00b").status_code == 422


def test_cursors_fit_the_id_columns(client: TestClient) -> None:
    """PostgreSQL's INTEGER id columns end at 2**31 - 1; a larger cursor used to be a 500."""
    agent_id = client.post("/v1/agents", json={"name": "c"}).json()["id"]
    url = f"/v1/agents/{agent_id}/messages"
    assert client.get(url, params={"after": str(2**31 - 1)}).status_code == 200
    too_big = client.get(url, params={"after": str(2**31)})
    assert too_big.status_code == 422 and too_big.json()["error"]["field"] == "after"
