from __future__ import annotations

from starlette.testclient import TestClient


def test_create_read_list_update_delete(client: TestClient) -> None:
    created = client.post(
        "/v1/agents",
        json={
            "name": "helper",
            "persona": "I am terse.",
            "human": "Name: Ada",
            "blocks": [{"label": "project", "value": "recalld", "limit": 500}],
            "context_window": 8000,
            "max_steps": 4,
        },
    )
    assert created.status_code == 201, created.text
    agent = created.json()
    assert agent["model"] == "offline" and agent["context_window"] == 8000
    agent_id = agent["id"]
    assert client.get(f"/v1/agents/{agent_id}").json()["name"] == "helper"
    labels = [b["label"] for b in client.get(f"/v1/agents/{agent_id}/blocks").json()["data"]]
    assert labels == ["persona", "project", "human"]
    patched = client.patch(f"/v1/agents/{agent_id}", json={"name": "renamed", "max_steps": 7})
    assert patched.json()["name"] == "renamed" and patched.json()["max_steps"] == 7
    assert client.delete(f"/v1/agents/{agent_id}").status_code == 204
    gone = client.get(f"/v1/agents/{agent_id}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


def test_listing_is_paginated(client: TestClient) -> None:
    ids = [client.post("/v1/agents", json={"name": f"a{i}"}).json()["id"] for i in range(5)]
    first = client.get("/v1/agents", params={"limit": 2}).json()
    second = client.get("/v1/agents", params={"limit": 2, "after": first["next"]}).json()
    third = client.get("/v1/agents", params={"limit": 2, "after": second["next"]}).json()
    seen = [a["id"] for page in (first, second, third) for a in page["data"]]
    assert seen == ids  # oldest first
    assert third["next"] is None


def test_bad_input_names_the_field(client: TestClient) -> None:
    missing = client.post("/v1/agents", json={})
    assert missing.status_code == 422
    assert missing.json()["error"] == {
        "code": "invalid_input",
        "message": "'name' is required",
        "field": "name",
    }
    wrong = client.post("/v1/agents", json={"name": "x", "context_window": "big"})
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "context_window"
    unknown = client.post("/v1/agents", json={"name": "x", "colour": "blue"})
    assert unknown.status_code == 422 and "colour" in unknown.json()["error"]["message"]
    over = client.post(
        "/v1/agents",
        json={"name": "x", "blocks": [{"label": "human", "value": "x" * 20, "limit": 10}]},
    )
    assert over.status_code == 413 and over.json()["error"]["code"] == "limit_exceeded"
    broken = client.post(
        "/v1/agents", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]["message"]
    assert client.get("/v1/agents", params={"limit": 0}).json()["error"]["field"] == "limit"
    assert client.get("/v1/agents").json()["data"] == []


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.put("/v1/agents")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
