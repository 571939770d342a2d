from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys


def test_without_keys_only_loopback_is_served(app: Starlette) -> None:
    with TestClient(app, client=("127.0.0.1", 1)) as local:
        assert local.get("/v1/agents").status_code == 200
        assert local.get("/v1/health").json()["auth"] == "loopback_only"
    with TestClient(app, client=("10.1.2.3", 1)) as remote:
        refused = remote.get("/v1/agents")
        assert refused.status_code == 401
        assert "loopback" in refused.json()["error"]["message"]


def test_keys_scope_every_lookup_to_the_tenant(app: Starlette, runtime: Runtime) -> None:
    acme = keys.create(runtime.engine, "acme")
    globex = keys.create(runtime.engine, "globex")
    with TestClient(app, client=("10.1.2.3", 1)) as client:
        as_acme = {"Authorization": f"Bearer {acme}"}
        as_globex = {"Authorization": f"Bearer {globex}"}
        assert client.get("/v1/agents").status_code == 401
        assert (
            client.get("/v1/agents", headers={"Authorization": "Bearer wrong"}).status_code == 401
        )
        agent = client.post("/v1/agents", json={"name": "secret"}, headers=as_acme).json()
        block = client.post(
            "/v1/blocks", json={"label": "x", "value": "acme only"}, headers=as_acme
        ).json()
        assert client.get(f"/v1/agents/{agent['id']}", headers=as_globex).status_code == 404
        assert client.get("/v1/agents", headers=as_globex).json()["data"] == []
        assert client.get(f"/v1/blocks/{block['id']}", headers=as_globex).status_code == 404
        assert (
            client.get(f"/v1/agents/{agent['id']}/archival", headers=as_globex).status_code == 404
        )
        assert client.delete(f"/v1/agents/{agent['id']}", headers=as_globex).status_code == 404
        sneaky = client.post(
            "/v1/agents", json={"name": "mine", "block_ids": [block["id"]]}, headers=as_globex
        )
        assert sneaky.status_code == 404
        assert client.get(f"/v1/agents/{agent['id']}", headers=as_acme).status_code == 200


def test_keys_are_stored_hashed(runtime: Runtime) -> None:
    from sqlmodel import Session, select

    from agent_runtime.storage.tables import ApiKey

    key = keys.create(runtime.engine, "acme")
    with Session(runtime.engine) as session:
        row = session.exec(select(ApiKey)).one()
    assert key not in (row.key_hash, row.prefix) and row.key_hash != key
    assert keys.tenant_for(runtime.engine, key) == "acme"
