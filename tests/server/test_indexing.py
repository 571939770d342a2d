from __future__ import annotations

import numpy as np
from starlette.testclient import TestClient

from agent_runtime.core.errors import RecalldError
from agent_runtime.retrieval.indexer import MAX_ATTEMPTS
from agent_runtime.runtime import Runtime


def test_parked_rows_are_shown_and_retried_over_rest(client: TestClient, runtime: Runtime) -> None:
    agent_id = client.post("/v1/agents", json={"name": "i"}).json()["id"]
    index = runtime.services.indexer.index
    real_upsert = index.upsert
    refused = {"on": True}

    def upsert(collection: str, ids: list[str], vectors: np.ndarray, metas: list) -> None:
        if refused["on"]:
            raise RecalldError("vector store write failed: Error in compaction")
        real_upsert(collection, ids, vectors, metas)

    index.upsert = upsert  # type: ignore[method-assign]
    client.post(f"/v1/agents/{agent_id}/archival", json={"text": "a row the index refuses"})
    for _ in range(MAX_ATTEMPTS):
        runtime.services.indexer.index_agent(agent_id)
    status = client.get(f"/v1/agents/{agent_id}/index").json()
    assert status["parked_rows"] == 1 and status["pending_rows"] == 0
    refused["on"] = False
    assert client.post(f"/v1/agents/{agent_id}/index/retry").json() == {"retried": 1}
    runtime.services.indexer.index_agent(agent_id)
    assert client.get(f"/v1/agents/{agent_id}/index").json()["parked_rows"] == 0
    assert client.get("/v1/agents/agent-nope/index").status_code == 404


def test_doctor_over_rest(client: TestClient, runtime: Runtime) -> None:
    agent_id = client.post("/v1/agents", json={"name": "d"}).json()["id"]
    client.post(f"/v1/agents/{agent_id}/archival", json={"text": "one passage"})
    runtime.services.indexer.index_agent(agent_id)
    index = runtime.services.indexer.index
    passages = [c for c in index.collections() if c.corpus == "passage"][0]  # type: ignore[attr-defined]
    index.upsert(passages, ["p:424242"], np.ones((1, 64), dtype=np.float32) / 8, [{"row": 424242}])
    found = client.post(f"/v1/agents/{agent_id}/doctor").json()["findings"]
    damaged = [f for f in found if not f["healthy"]]
    assert [(f["kind"], f["orphans"]) for f in damaged] == [("passage", ["p:424242"])]
    fixed = client.post("/v1/doctor", json={"repair": True}).json()["findings"]
    assert any(f["repaired"] for f in fixed)
    assert all(f["healthy"] for f in client.post("/v1/doctor").json()["findings"])
