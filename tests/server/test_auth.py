from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys


def test_without_keys_only_loopback_is_served(app: Starlette) -> None:
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 1)) as local:
        assert local.get("/v1/agents").status_code == 200
        assert local.get("/v1/health").json()["auth"] == "loopback_only"
        # SDKs always send a token; with no key configured it means nothing on loopback
        sdk = local.get("/v1/agents", headers={"Authorization": "Bearer sk-anything"})
        assert sdk.status_code == 200
    with TestClient(app, client=("10.1.2.3", 1)) as remote:
        refused = remote.get("/v1/agents")
        assert refused.status_code == 401
        assert "loopback" in refused.json()["error"]["message"]


def test_without_keys_a_page_elsewhere_is_not_the_operator(app: Starlette) -> None:
    """A web page the operator opens may post to a keyless loopback server (a "simple" request
    needs no preflight), or reach it through a name rebound to 127.0.0.1: both are refused."""
    with TestClient(app, base_url="http://127.0.0.1:8300", client=("127.0.0.1", 1)) as local:
        forged = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
        posted = local.post("/v1/agents", content='{"name": "planted"}', headers=forged)
        assert posted.status_code == 403
        assert "loopback hosts and origins" in posted.json()["error"]["message"]
        rebound = local.get("/v1/agents", headers={"Host": "evil.example:8300"})
        assert rebound.status_code == 403
        assert local.get("/v1/agents").json()["data"] == []  # nothing was planted
        # Names that only start like an address of this machine, and other ports of it.
        for origin in ("http://127.0.0.1.rebind.example:8300", "http://localhost:3000"):
            other = local.post("/v1/agents", json={"name": "x"}, headers={"Origin": origin})
            assert other.status_code == 403, origin
        rebound = local.get("/v1/agents", headers={"Host": "127.0.0.1.rebind.example:8300"})
        assert rebound.status_code == 403
        # The operator's view of health is not for a rebound name either.
        seen = local.get("/v1/health", headers={"Host": "evil.example:8300"}).json()
        assert "indexer" not in seen and "indexer" in local.get("/v1/health").json()
        mine = {"Origin": "http://127.0.0.1:8300"}
        assert local.post("/v1/agents", json={"name": "mine"}, headers=mine).status_code == 201


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


def test_revoking_every_key_keeps_auth_on(app: Starlette, runtime: Runtime) -> None:
    key = keys.issue(runtime.engine, "acme")
    runtime.keys.revoke(key.row.id or 0, "acme")
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 1)) as local:
        assert local.get("/v1/agents").status_code == 401  # not back to loopback without a key
        assert local.get("/v1/health").json() == {"status": "ok"}
        revoked = local.get("/v1/health", headers={"Authorization": f"Bearer {key.secret}"})
        assert revoked.status_code == 401


def test_a_member_key_reaches_its_tenant_like_an_admin_key(
    app: Starlette, runtime: Runtime
) -> None:
    member = keys.create(runtime.engine, "acme", role="member")
    with TestClient(app, client=("10.1.2.3", 1)) as client:
        made = client.post(
            "/v1/agents", json={"name": "helper"}, headers={"Authorization": f"Bearer {member}"}
        )
        assert made.status_code == 201
    assert [a.name for a in runtime.list_agents(tenant="acme")] == ["helper"]


def test_the_first_admin_key_can_come_from_the_environment(tmp_path: Path) -> None:
    from agent_runtime.core.settings import Settings
    from agent_runtime.embedding.fake import FakeEmbedder
    from agent_runtime.retrieval.vector_index import MemoryIndex

    secret = "rk_bootstrap_" + "x" * 32
    settings = Settings(home=tmp_path, bootstrap_admin_key=secret)
    first = Runtime(settings, embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex())
    assert first.tenant_for_key(secret) == "default" and first.multi_tenant()
    first.close()
    again = Runtime(settings, embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex())
    assert again.tenant_for_key(secret) == "default"  # stored once, not twice
    again.close()
    assert "bootstrap_admin_key" not in repr(settings) and secret not in repr(settings)
