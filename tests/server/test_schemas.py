from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from agent_runtime.core import limits


def new_agent(client: TestClient) -> str:
    response = client.post("/v1/agents", json={"name": "s"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.mark.parametrize(
    "params",
    [
        {"query": "x", "start": "9999-12-31T23:59:59-01:00"},
        {"query": "x", "end": "0001-01-01T00:00:00+01:00"},
        {"query": "x", "start": "20240501"},
    ],
)
def test_a_search_time_past_the_calendar_or_not_iso_is_422(
    client: TestClient, params: dict[str, str]
) -> None:
    agent_id = new_agent(client)
    for kind in ("archival", "recall"):
        response = client.get(f"/v1/agents/{agent_id}/{kind}", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] in ("start", "end")


def test_a_created_at_past_the_calendar_is_422(client: TestClient) -> None:
    agent_id = new_agent(client)
    early = "0001-01-01T00:00:00+01:00"
    passage = client.post(
        f"/v1/agents/{agent_id}/archival", json={"text": "x", "created_at": early}
    )
    assert passage.status_code == 422 and passage.json()["error"]["field"] == "created_at"
    assert "outside years 1 to 9999" in passage.json()["error"]["message"]
    history = {"messages": [{"role": "user", "content": "x", "created_at": early}]}
    imported = client.post(f"/v1/agents/{agent_id}/recall", json=history)
    assert imported.status_code == 422
    assert imported.json()["error"]["field"] == "messages[0].created_at"
    assert imported.json()["error"]["message"].startswith("messages[0]: 'created_at' is outside")


@pytest.mark.parametrize(
    ("path", "body", "field", "limit"),
    [
        ("", {"name": "x", "system": "s" * (limits.MAX_SYSTEM_CHARS + 1)}, "system", None),
        ("", {"name": "n" * (limits.MAX_AGENT_NAME_CHARS + 1)}, "name", None),
        ("", {"name": "x", "model": "m" * (limits.MAX_MODEL_CHARS + 1)}, "model", None),
        (
            "",
            {"name": "x", "blocks": [{"label": "a", "description": "d" * 1001}]},
            "blocks[0].description",
            limits.MAX_BLOCK_DESCRIPTION_CHARS,
        ),
        (
            "/archival",
            {"text": "t", "tags": [f"t{i}" for i in range(limits.MAX_TAGS + 1)]},
            "tags",
            limits.MAX_TAGS,
        ),
        ("/archival", {"text": "t", "tags": ["x" * 65]}, "tags[0]", limits.MAX_TAG_CHARS),
        ("/jobs", {"goal": "g" * (limits.MAX_GOAL_CHARS + 1)}, "goal", limits.MAX_GOAL_CHARS),
        ("/jobs", {"goal": "g", "max_duration": "9" * 40 + "d"}, "max_duration", None),
        ("/jobs", {"goal": "g", "max_duration": -1}, "max_duration", None),
        ("/jobs", {"goal": "g", "schedule": "1" * 101 + "s"}, "schedule", None),
    ],
)
def test_inputs_over_their_limits_are_422_naming_them(
    client: TestClient, path: str, body: dict, field: str, limit: int | None
) -> None:
    url = f"/v1/agents/{new_agent(client)}{path}" if path else "/v1/agents"
    response = client.post(url, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    if limit is not None:
        assert str(limit) in error["message"]


def test_a_search_query_over_its_limit_is_422(client: TestClient) -> None:
    agent_id = new_agent(client)
    long = "q" * (limits.MAX_QUERY_CHARS + 1)
    for kind in ("archival", "recall"):
        response = client.get(f"/v1/agents/{agent_id}/{kind}", params={"query": long})
        assert response.status_code == 422 and response.json()["error"]["field"] == "query"
        assert str(limits.MAX_QUERY_CHARS) in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/jobs?agent_id=", "agent_id"),  # an empty value is a value, not "absent"
        ("/v1/agents?limit=", "limit"),
        ("/v1/blocks?label=0.5", "label"),
        ("/v1/agents?name=%20padded", "name"),
        ("/v1/agents?name=a/b", "name"),
    ],
)
def test_query_values_are_held_to_their_documented_patterns(
    client: TestClient, url: str, field: str
) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_an_empty_archival_query_is_a_search_not_a_listing(client: TestClient) -> None:
    agent_id = new_agent(client)
    response = client.get(f"/v1/agents/{agent_id}/archival?query=")
    assert response.status_code == 422 and response.json()["error"]["field"] == "query"
