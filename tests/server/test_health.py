from __future__ import annotations

import time

import numpy as np
from starlette.testclient import TestClient


def test_health(client: TestClient) -> None:
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["database"] in ("sqlite", "postgresql")


def test_unexpected_errors_are_a_generic_500(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    def explode(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internals")

    runtime.list_agents = explode
    with TestClient(
        client.app,
        raise_server_exceptions=False,  # type: ignore[arg-type]
        base_url="http://127.0.0.1",
        client=("127.0.0.1", 1),
    ) as quiet:
        response = quiet.get("/v1/agents")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal server error"}}


class Broken:
    """An embedder whose service is down."""

    name = "fake"
    dimension = 64

    def embed(self, texts: list[str]) -> np.ndarray:
        raise ConnectionError("embedding service unreachable")


def wait_for(client: TestClient, status: str) -> dict:
    for _ in range(100):  # bounded: 10 s
        body = client.get("/v1/health").json()
        if body["status"] == status:
            return body
        time.sleep(0.1)
    raise AssertionError(f"health never became {status}: {body}")


def test_a_failing_background_indexer_shows_in_health(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    agent_id = client.post("/v1/agents", json={"name": "h"}).json()["id"]
    embedding = runtime.get_agent(agent_id).embedding
    embedders = runtime.services.embedders._made
    working, embedders[embedding] = runtime.services.embedders.get(embedding), Broken()
    client.post(f"/v1/agents/{agent_id}/archival", json={"text": "the kiln is hot"})
    body = wait_for(client, "degraded")
    assert body["indexer"]["pending_rows"] == 1 and body["indexer"]["failing_agents"] == 1
    assert body["indexer"]["last_error"]["agent_id"] == agent_id
    assert "embedding service unreachable" in body["indexer"]["last_error"]["error"]

    # another agent's successful pass does not hide the failing one
    healthy = client.post("/v1/agents", json={"name": "g", "embedding": "fake-two"}).json()["id"]
    client.post(f"/v1/agents/{healthy}/archival", json={"text": "all is well"})
    client.get(f"/v1/agents/{healthy}/archival", params={"query": "well"})  # indexed by now
    time.sleep(0.5)  # and the background pass for it has run
    assert client.get("/v1/health").json()["status"] == "degraded"

    embedders[embedding] = working  # the service is back: the next pass indexes what waited
    client.post(f"/v1/agents/{agent_id}/archival", json={"text": "the glaze is blue"})
    body = wait_for(client, "ok")
    reported = {k: body["indexer"][k] for k in ("pending_rows", "failing_agents", "last_error")}
    assert reported == {"pending_rows": 0, "failing_agents": 0, "last_error": None}


def test_without_a_key_health_says_only_up_or_degraded(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    from agent_runtime.storage import keys

    key = keys.create(runtime.engine, "acme")
    assert client.get("/v1/health").json() == {"status": "ok"}
    mine = client.get("/v1/health", headers={"Authorization": f"Bearer {key}"}).json()
    assert mine["status"] == "ok" and mine["indexer"]["pending_rows"] == 0
    bad = client.get("/v1/health", headers={"Authorization": "Bearer rk_wrong"})
    assert bad.status_code == 401


def test_a_tenant_sees_only_its_own_agents_failures(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    from agent_runtime.core.specs import AgentSpec
    from agent_runtime.storage import keys

    acme, other = keys.create(runtime.engine, "acme"), keys.create(runtime.engine, "other")
    theirs = runtime.create_agent(AgentSpec(name="o", embedding="broken-model"), tenant="other")
    embedders = runtime.services.embedders._made
    embedders["broken-model"] = Broken()  # this agent's own embedding model is down
    runtime.insert_passage(theirs.id, "their row", tenant="other")
    ours = runtime.create_agent(AgentSpec(name="a"), tenant="acme")
    runtime.insert_passage(ours.id, "our row", tenant="acme")

    def seen(key: str) -> dict:
        return client.get("/v1/health", headers={"Authorization": f"Bearer {key}"}).json()

    for _ in range(100):  # bounded: the background indexer records the failure
        if seen(other)["indexer"]["failing_agents"] == 1:
            break
        time.sleep(0.1)
    theirs_view, ours_view = seen(other), seen(acme)
    assert theirs_view["indexer"]["last_error"]["agent_id"] == theirs.id
    assert (
        ours_view["indexer"]["failing_agents"] == 0 and ours_view["indexer"]["last_error"] is None
    )
    assert theirs.id not in str(ours_view)
    # one tenant's broken setup does not make the server degraded for everyone
    assert ours_view["status"] == theirs_view["status"] == "ok"
    assert client.get("/v1/health").json() == {"status": "ok"}
