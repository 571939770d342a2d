"""Memory history over REST."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_block_history_restore_and_as_of(client: TestClient) -> None:
    agent = client.post(
        "/v1/agents", json={"name": "h", "blocks": [{"label": "human", "value": "v1"}]}
    ).json()["id"]
    url = f"/v1/agents/{agent}/blocks/human"
    for value in ("v2", "v3", "v4"):
        assert client.patch(url, json={"value": value}).status_code == 200
    page = client.get(f"{url}/history", params={"limit": 2}).json()
    assert [(v["version"], v["value"], v["old_value"]) for v in page["data"]] == [
        (4, "v4", "v3"),
        (3, "v3", "v2"),
    ]
    rest = client.get(f"{url}/history", params={"limit": 2, "before": page["next"]}).json()
    assert [(v["version"], v["old_value"]) for v in rest["data"]] == [(2, "v1"), (1, None)]
    assert rest["next"] is None
    restored = client.post(f"{url}/restore", json={"version": 2}).json()
    assert restored["block"]["value"] == "v2" and restored["version"]["restored_from"] == 2
    block_id = restored["block"]["id"]
    by_id = client.get(f"/v1/blocks/{block_id}/history").json()
    assert by_id["data"][0]["version"] == 5 and by_id["label"] == "human"
    assert client.post(f"{url}/restore", json={"version": 99}).status_code == 404
    assert client.post(f"{url}/restore", json={"version": 0}).status_code == 422
    then = client.get(
        f"/v1/agents/{agent}/memory", params={"as_of": by_id["data"][2]["created_at"]}
    ).json()
    assert {b["label"]: b["value"] for b in then["blocks"]}["human"] == "v3"
    assert client.get(f"/v1/agents/{agent}/memory").status_code == 422  # as_of is required


def test_archival_history_and_methods_it_does_not_allow(client: TestClient) -> None:
    agent = client.post("/v1/agents", json={"name": "a"}).json()["id"]
    made = client.post(f"/v1/agents/{agent}/archival", json={"text": "x"}).json()
    client.delete(f"/v1/agents/{agent}/archival/{made['id']}")
    events = client.get(f"/v1/agents/{agent}/archival/history").json()["data"]
    assert [(e["event"], e["text"]) for e in events] == [("inserted", ""), ("deleted", "x")]
    refused = client.delete(f"/v1/agents/{agent}/archival/history")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET"
