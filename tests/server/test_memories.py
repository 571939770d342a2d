"""/v1/memories end to end through the REST API."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys


def write(client: TestClient, *facts: dict[str, object], **body: object) -> dict[str, object]:
    response = client.post("/v1/memories", json={"facts": list(facts), **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_move_supersedes_and_search_sees_now_then_and_history(client: TestClient) -> None:
    slot = {"subject": "Ada", "attribute": "lives_in"}
    first = write(client, {**slot, "value": "Porto", "valid_at": "2020-01-01"}, user_id="ada")
    porto = first["added"][0]  # type: ignore[index]
    assert porto["status"] == "current" and porto["text"] == "Ada lives in Porto"
    moved = write(client, {**slot, "value": "Lisbon", "valid_at": "2023-05-01"}, user_id="ada")
    [superseded] = moved["superseded"]  # type: ignore[misc]
    assert superseded["fact"]["id"] == porto["id"]
    assert superseded["superseded_by"] == moved["added"][0]["id"]  # type: ignore[index]
    assert superseded["fact"]["invalid_at"] == "2023-05-01T00:00:00Z"

    def search(**body: object) -> list[tuple[str, str]]:
        response = client.post(
            "/v1/memories/search", json={"query": "where does Ada live", "user_id": "ada", **body}
        )
        assert response.status_code == 200, response.text
        return [(h["value"], h["status"]) for h in response.json()["data"]]

    assert search() == [("Lisbon", "current")]
    assert search(as_of="2021-06-01") == [("Porto", "superseded")]
    assert sorted(search(include_history=True)) == [("Lisbon", "current"), ("Porto", "superseded")]
    assert search(user_id="bo") == []
    history = client.get(f"/v1/memories/{porto['id']}/history").json()["data"]
    assert [(e["event"], e["old_value"], e["new_value"]) for e in history] == [
        ("added", None, "Porto"),
        ("superseded", "Porto", "Lisbon"),
    ]


def test_merge_negation_and_unchanged_are_reported(client: TestClient) -> None:
    likes = {"subject": "Ada", "attribute": "likes", "kind": "preference"}
    write(client, {**likes, "value": "sushi", "evidence": ["D1:1"]})
    again = write(client, {**likes, "value": "Sushi", "evidence": ["D2:4"]})
    assert again["merged"][0]["evidence"] == ["D1:1", "D2:4"]  # type: ignore[index]
    no = write(
        client,
        {**likes, "value": "sushi", "negates": True},
        {**likes, "value": "opera", "negates": True},
    )
    assert [f["status"] for f in no["negated"]] == ["negated"]  # type: ignore[union-attr]
    assert no["unchanged"][0]["index"] == 1  # type: ignore[index]


def test_list_get_patch_delete_and_purge(client: TestClient) -> None:
    ids = [
        f["id"]
        for f in write(client, *[{"text": f"Ada fact number {i}"} for i in range(5)])["added"]  # type: ignore[union-attr]
    ]
    page = client.get("/v1/memories", params={"limit": 2}).json()
    assert [f["id"] for f in page["data"]] == ids[:2] and page["next"] == ids[1]
    rest = client.get("/v1/memories", params={"limit": 10, "after": page["next"]}).json()
    assert [f["id"] for f in rest["data"]] == ids[2:] and rest["next"] is None
    patched = client.patch(f"/v1/memories/{ids[0]}", json={"text": "Ada fact number zero"})
    assert patched.status_code == 200 and patched.json()["text"] == "Ada fact number zero"
    deleted = client.delete(f"/v1/memories/{ids[1]}")
    assert deleted.json() == {"id": ids[1], "deleted": True, "purged": False}
    assert client.get(f"/v1/memories/{ids[1]}").json()["status"] == "deleted"
    purged = client.delete(f"/v1/memories/{ids[2]}", params={"purge": "true"}).json()
    assert purged["erased"] == {"text": True, "vectors": True, "history_events": 1}
    assert client.get(f"/v1/memories/{ids[2]}").json()["text"] == ""
    assert client.get("/v1/memories/999999").status_code == 404


def test_bad_input_is_a_clear_4xx(client: TestClient) -> None:
    def error(path: str, body: object) -> tuple[int, str]:
        response = client.post(path, json=body)
        return response.status_code, response.json()["error"]["message"]

    assert error("/v1/memories", {"facts": []})[0] == 422
    assert error("/v1/memories", {"facts": [{"subject": "Ada"}]})[0] == 422
    status, message = error("/v1/memories", {"facts": [{"text": "x", "kind": "rumour"}]})
    assert status == 422 and "kind" in message
    status, message = error(
        "/v1/memories/search", {"query": "x", "filters": {"password": {"eq": 1}}}
    )
    assert status == 422 and "cannot filter on" in message
    status, message = error("/v1/memories", {"facts": [{"text": "x" * 2001}]})
    assert status == 422
    missing_agent = error("/v1/memories", {"facts": [{"text": "x"}], "agent_id": "agent-nope"})
    assert missing_agent[0] == 404


def test_another_tenants_fact_is_not_found(app: Starlette, runtime: Runtime) -> None:
    acme = {"Authorization": f"Bearer {keys.create(runtime.engine, 'acme')}"}
    globex = {"Authorization": f"Bearer {keys.create(runtime.engine, 'globex')}"}
    with TestClient(app, client=("10.1.2.3", 1)) as client:
        made = client.post(
            "/v1/memories", json={"facts": [{"text": "Acme's launch date is May 3"}]}, headers=acme
        )
        fact_id = made.json()["added"][0]["id"]
        for method, path in (
            ("GET", f"/v1/memories/{fact_id}"),
            ("GET", f"/v1/memories/{fact_id}/history"),
            ("PATCH", f"/v1/memories/{fact_id}"),
            ("DELETE", f"/v1/memories/{fact_id}?purge=true"),
        ):
            body = {"text": "stolen"} if method == "PATCH" else None
            response = client.request(method, path, json=body, headers=globex)
            assert response.status_code == 404, (method, path)
        found = client.post("/v1/memories/search", json={"query": "launch date"}, headers=globex)
        assert found.json()["data"] == []
        assert client.get("/v1/memories", headers=globex).json()["data"] == []
        mine = client.get(f"/v1/memories/{fact_id}", headers=acme).json()
        assert mine["text"] == "Acme's launch date is May 3"


def test_messages_are_ingested_in_the_background_or_waited_for(client: TestClient) -> None:
    said = {"messages": [{"content": "I moved to Oslo. I love skiing."}], "user_id": "kim"}
    queued = client.post("/v1/memories", json=said)
    assert queued.status_code == 202, queued.text
    ingestion = queued.json()
    assert ingestion["status"] == "queued" and ingestion["result"] == {}
    client.app.state.runtime.pipeline.run_once()  # type: ignore[attr-defined]
    done = client.get(f"/v1/memories/ingestions/{ingestion['id']}").json()
    assert done["status"] == "done" and len(done["result"]["added"]) == 2
    waited = client.post(
        "/v1/memories",
        json={"messages": [{"content": "I work at Initech."}], "user_id": "kim", "wait": True},
    )
    assert waited.status_code == 201 and waited.json()["added"][0]["value"] == "Initech"
    plain = client.post(
        "/v1/memories",
        json={"messages": [{"content": "Locker 42 is Kim's"}], "user_id": "kim", "infer": False},
    )
    assert plain.status_code == 201 and plain.json()["added"][0]["text"] == "Locker 42 is Kim's"
    both = client.post("/v1/memories", json={**said, "facts": [{"text": "x"}]})
    assert both.status_code == 422 and "one of them" in both.json()["error"]["message"]
    assert client.get("/v1/memories/ingestions/ext-nope").status_code == 404


def test_an_agent_chooses_its_memory_mode(client: TestClient) -> None:
    made = client.post("/v1/agents", json={"name": "m"}).json()
    assert made["memory"] == "auto" and made["memory_model"] is None
    edited = client.patch(
        f"/v1/agents/{made['id']}", json={"memory": "tools", "memory_model": "offline"}
    ).json()
    assert (edited["memory"], edited["memory_model"]) == ("tools", "offline")
    bad = client.post("/v1/agents", json={"name": "n", "memory": "psychic"})
    assert bad.status_code == 422
