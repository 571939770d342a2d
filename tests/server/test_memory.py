from __future__ import annotations

from starlette.testclient import TestClient

from agent_runtime.llm.scripted import ScriptedLLM


def new_agent(client: TestClient, name: str = "m", **body: object) -> str:
    response = client.post("/v1/agents", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_blocks_can_be_read_and_edited_within_limits(client: TestClient) -> None:
    agent_id = new_agent(client, blocks=[{"label": "human", "value": "", "limit": 20}])
    url = f"/v1/agents/{agent_id}/blocks/human"
    assert client.patch(url, json={"value": "Name: Ada"}).json()["size"] == 9
    over = client.patch(url, json={"value": "x" * 21})
    assert over.status_code == 413 and "limit of 20" in over.json()["error"]["message"]
    assert client.get(url).json()["value"] == "Name: Ada"
    assert client.get(f"/v1/agents/{agent_id}/blocks/nope").status_code == 404
    context = client.get(f"/v1/agents/{agent_id}/context").json()
    assert set(context) >= {"system", "blocks", "summary", "messages", "tools", "total", "window"}
    assert context["total"] >= context["system"] + context["blocks"] + context["tools"]


def test_read_only_blocks_refuse_the_agent_but_not_the_owner(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client, blocks=[{"label": "rules", "value": "Be kind", "read_only": True}])
    fake_llm.reply(
        core_memory_replace={"label": "rules", "old_content": "kind", "new_content": "rude"}
    )
    fake_llm.reply("ok")
    turn = client.post(f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "x"}]})
    assert "read-only" in turn.json()["messages"][2]["content"]
    edited = client.patch(f"/v1/agents/{agent_id}/blocks/rules", json={"value": "Be very kind"})
    assert edited.status_code == 200


def test_a_shared_block_is_seen_by_every_agent_it_is_attached_to(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    shared = client.post("/v1/blocks", json={"label": "team", "value": "Sprint goal: ship v1"})
    assert shared.status_code == 201
    block_id = shared.json()["id"]
    first = new_agent(client, "first", block_ids=[block_id])
    second = new_agent(client, "second")
    assert client.post(f"/v1/agents/{second}/blocks/{block_id}/attach").status_code == 204
    assert client.get(f"/v1/blocks/{block_id}").json()["agent_ids"] == sorted([first, second])
    # the first agent edits it; the second agent's next prompt shows the edit
    fake_llm.reply(
        core_memory_replace={"label": "team", "old_content": "ship v1", "new_content": "ship v2"}
    )
    fake_llm.reply("updated")
    client.post(f"/v1/agents/{first}/messages", json={"messages": [{"content": "new goal"}]})
    fake_llm.reply("hello")
    client.post(f"/v1/agents/{second}/messages", json={"messages": [{"content": "hi"}]})
    assert "Sprint goal: ship v2" in fake_llm.requests[-1].messages[0]["content"]
    again = client.post(f"/v1/agents/{second}/blocks/{block_id}/attach")
    assert again.status_code == 204  # attaching twice is harmless
    assert client.post(f"/v1/agents/{second}/blocks/{block_id}/detach").status_code == 204
    assert [b["label"] for b in client.get(f"/v1/agents/{second}/blocks").json()["data"]] == [
        "persona",
        "human",
    ]
    client.delete(f"/v1/agents/{first}")
    assert client.get(f"/v1/blocks/{block_id}").status_code == 200  # still shared by no one
    assert client.delete(f"/v1/blocks/{block_id}").status_code == 204
    assert client.get(f"/v1/blocks/{block_id}").status_code == 404


def test_attaching_a_second_block_with_the_same_label_conflicts(client: TestClient) -> None:
    agent_id = new_agent(client)
    other = client.post("/v1/blocks", json={"label": "human", "value": "someone else"}).json()
    clash = client.post(f"/v1/agents/{agent_id}/blocks/{other['id']}/attach")
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict"


def test_archival_insert_list_search_delete(client: TestClient) -> None:
    agent_id = new_agent(client)
    url = f"/v1/agents/{agent_id}/archival"
    a = client.post(
        url,
        json={
            "text": "Invoice INV-7 paid",
            "tags": ["billing"],
            "created_at": "2024-03-01T10:00:00Z",
        },
    )
    assert a.status_code == 201 and a.json()["created_at"] == "2024-03-01T10:00:00Z"
    client.post(url, json={"text": "Team lunch on Friday", "created_at": "2024-05-01"})
    listed = client.get(url).json()["data"]
    assert [p["text"] for p in listed] == ["Invoice INV-7 paid", "Team lunch on Friday"]
    found = client.get(url, params={"query": "INV-7"}).json()
    assert found["data"][0]["text"] == "Invoice INV-7 paid"
    ranged = client.get(url, params={"query": "lunch invoice", "start": "2024-04-01"}).json()
    assert [h["text"] for h in ranged["data"]] == ["Team lunch on Friday"]
    tagged = client.get(url, params={"query": "paid lunch", "tags": "billing"}).json()
    assert [h["text"] for h in tagged["data"]] == ["Invoice INV-7 paid"]
    bad = client.get(url, params={"query": "x", "start": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "start"
    assert client.post(url, json={"text": ""}).status_code == 422
    assert client.delete(f"{url}/{a.json()['id']}").status_code == 204
    assert client.delete(f"{url}/{a.json()['id']}").status_code == 404
    assert [p["text"] for p in client.get(url).json()["data"]] == ["Team lunch on Friday"]


def test_recall_search(client: TestClient, fake_llm: ScriptedLLM) -> None:
    agent_id = new_agent(client)
    fake_llm.reply("Noted the zeppelin.")
    client.post(
        f"/v1/agents/{agent_id}/messages",
        json={"messages": [{"content": "I saw a zeppelin over Hamburg"}]},
    )
    hits = client.get(f"/v1/agents/{agent_id}/recall", params={"query": "zeppelin"}).json()
    assert hits["data"][0]["text"] in ("I saw a zeppelin over Hamburg", "Noted the zeppelin.")
    users = client.get(
        f"/v1/agents/{agent_id}/recall", params={"query": "zeppelin", "roles": "user"}
    ).json()["data"]
    assert [h["role"] for h in users] == ["user"]
    assert client.get(f"/v1/agents/{agent_id}/recall").status_code == 422


def test_imported_history_is_searchable_but_stays_out_of_the_context_window(
    client: TestClient, fake_llm: ScriptedLLM
) -> None:
    agent_id = new_agent(client)
    url = f"/v1/agents/{agent_id}/recall"
    before = client.get(f"/v1/agents/{agent_id}/context").json()["messages"]
    history = [
        {"role": "user", "content": "my bike lock code is 7741", "created_at": "2023-05-01T09:00"},
        {"role": "assistant", "content": "noted, 7741 for the bike lock"},
        {"role": "user", "content": "the boiler was serviced", "created_at": "2023-06-02"},
    ]
    response = client.post(url, json={"messages": history})
    assert response.status_code == 201 and response.json() == {"imported": 3}

    hits = client.get(url, params={"query": "bike lock code", "roles": "user"}).json()["data"]
    assert hits[0]["text"] == "my bike lock code is 7741"
    assert hits[0]["created_at"].startswith("2023-05-01T09:00")
    june = {"query": "boiler", "start": "2023-06-01", "end": "2023-06-30"}
    boiler = client.get(url, params=june).json()["data"]
    assert [h["text"] for h in boiler] == ["the boiler was serviced"]
    assert client.get(f"/v1/agents/{agent_id}/context").json()["messages"] == before
    listed = client.get(f"/v1/agents/{agent_id}/messages").json()["data"]
    assert [m["content"] for m in listed][:3] == [h["content"] for h in history]

    fake_llm.reply("hello")
    turn = client.post(f"/v1/agents/{agent_id}/messages", json={"messages": [{"content": "hi"}]})
    sent = fake_llm.requests[-1].messages
    assert turn.status_code == 200 and not any("7741" in str(m["content"]) for m in sent)


def test_a_bad_imported_message_is_named_and_nothing_is_imported(client: TestClient) -> None:
    agent_id = new_agent(client)
    url = f"/v1/agents/{agent_id}/recall"
    good = {"role": "user", "content": "fine"}
    for bad, expected in [
        ({"role": "tool", "content": "x"}, "messages[1]: 'role' must be one of"),
        ({"role": "user", "content": "  "}, "messages[1]: message content is empty"),
        ({"role": "user"}, "messages[1]: 'content' is required"),
        ({"role": "user", "content": "x", "created_at": "soon"}, "messages[1]: "),
        (
            {"role": "user", "content": "x", "mood": "?"},
            "unknown field(s) ['mood'] in 'messages[1]'",
        ),
        ("just text", "'messages[1]' must be an object"),
    ]:
        response = client.post(url, json={"messages": [good, bad]})
        assert response.status_code == 422, bad
        assert response.json()["error"]["message"].startswith(expected), response.text
    assert client.post(url, json={"messages": "all of it"}).status_code == 422
    assert client.get(f"/v1/agents/{agent_id}/messages").json()["data"] == []
    assert client.post("/v1/agents/nobody/recall", json={"messages": [good]}).status_code == 404
