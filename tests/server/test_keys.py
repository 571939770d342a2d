"""/v1/keys (`server/routes/keys.py`): an admin key manages its own tenant's keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys

Headers = dict[str, str]


def bearer(key: str) -> Headers:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def remote(app: Starlette) -> Iterator[TestClient]:
    """A client that is not on loopback: only keys get it anywhere."""
    with TestClient(app, client=("10.1.2.3", 1)) as client:
        yield client


@pytest.fixture
def admin(runtime: Runtime) -> Headers:
    return bearer(keys.create(runtime.engine, "acme", "ops", "admin"))


def test_an_admin_makes_a_key_whose_secret_is_shown_once(
    remote: TestClient, admin: Headers
) -> None:
    made = remote.post("/v1/keys", json={"name": "ci-bot", "role": "member"}, headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["tenant"], body["name"], body["role"]) == ("acme", "ci-bot", "member")
    assert body["key"].startswith(body["prefix"]) and body["revoked_at"] is None
    assert remote.get("/v1/agents", headers=bearer(body["key"])).status_code == 200

    listed = remote.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    assert [(k["name"], k["role"]) for k in listed.json()["data"]] == [
        ("ops", "admin"),
        ("ci-bot", "member"),
    ]
    assert body["key"] not in listed.text
    assert all("key" not in k for k in listed.json()["data"])


def test_a_key_without_a_name_is_named_after_its_prefix(remote: TestClient, admin: Headers) -> None:
    made = remote.post("/v1/keys", json={"role": "admin"}, headers=admin).json()
    assert made["name"] == f"key-{made['prefix']}" and made["role"] == "admin"


def test_when_a_key_was_last_used_shows_in_the_list(
    remote: TestClient, admin: Headers, runtime: Runtime
) -> None:
    made = remote.post("/v1/keys", json={"role": "member"}, headers=admin).json()
    remote.get("/v1/agents", headers=bearer(made["key"]))
    runtime.keys.settle()
    used = {
        k["id"]: k["last_used_at"] for k in remote.get("/v1/keys", headers=admin).json()["data"]
    }
    assert used[made["id"]] is not None and used[made["id"]] >= made["created_at"]


def test_a_revoked_key_is_refused_at_once(remote: TestClient, admin: Headers) -> None:
    made = remote.post("/v1/keys", json={"role": "member"}, headers=admin).json()
    member = bearer(made["key"])
    assert remote.get("/v1/agents", headers=member).status_code == 200  # now in the cache
    revoked = remote.delete(f"/v1/keys/{made['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = remote.get("/v1/agents", headers=member)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    again = remote.delete(f"/v1/keys/{made['id']}", headers=admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    listed = remote.get("/v1/keys", headers=admin).json()["data"]
    assert [k["revoked_at"] is not None for k in listed] == [False, True]


def test_a_member_key_may_not_manage_keys(
    remote: TestClient, admin: Headers, runtime: Runtime
) -> None:
    made = remote.post("/v1/keys", json={"role": "member"}, headers=admin).json()
    member = bearer(made["key"])
    for method, path, body in [
        ("GET", "/v1/keys", None),
        ("POST", "/v1/keys", {"role": "admin"}),
        ("DELETE", f"/v1/keys/{made['id']}", None),
    ]:
        refused = remote.request(method, path, json=body, headers=member)
        assert refused.status_code == 403, (method, path)
        assert refused.json()["error"]["code"] == "forbidden"
    assert len(keys.listing(runtime.engine, "acme")) == 2
    assert remote.get("/v1/agents", headers=member).status_code == 200  # still valid


def test_an_admin_reaches_only_its_own_tenants_keys(
    remote: TestClient, admin: Headers, runtime: Runtime
) -> None:
    theirs = keys.issue(runtime.engine, "globex", "their-admin")
    assert [k["tenant"] for k in remote.get("/v1/keys", headers=admin).json()["data"]] == ["acme"]
    missing = remote.delete(f"/v1/keys/{theirs.row.id}", headers=admin)
    assert missing.status_code == 404
    assert remote.get("/v1/agents", headers=bearer(theirs.secret)).status_code == 200
    elsewhere = remote.post("/v1/keys", json={"role": "admin", "tenant": "globex"}, headers=admin)
    assert elsewhere.status_code == 403 and "own tenant (acme)" in elsewhere.text
    assert len(keys.listing(runtime.engine, "globex")) == 1
    own = remote.post("/v1/keys", json={"role": "member", "tenant": "acme"}, headers=admin)
    assert own.status_code == 201


def test_without_an_admin_key_nothing_is_managed(
    app: Starlette, remote: TestClient, runtime: Runtime
) -> None:
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 1)) as local:
        refused = local.post("/v1/keys", json={"role": "admin"})
        assert refused.status_code == 403 and "recalld keys create --local" in refused.text
        assert local.get("/v1/health").json()["auth"] == "loopback_only"  # still no key
    assert not keys.any_configured(runtime.engine)
    keys.create(runtime.engine, "acme")
    assert remote.get("/v1/keys").status_code == 401
    assert remote.get("/v1/keys", headers=bearer("rk_wrong")).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"role": "owner"},
        {"name": "ci-bot"},
        {"role": "member", "name": "has space"},
        {"role": "member", "tenant": "no/slash"},
        {"role": "member", "key": "rk_chosen-by-the-caller"},
    ],
)
def test_bad_bodies_are_refused(
    remote: TestClient, admin: Headers, runtime: Runtime, body: dict[str, str]
) -> None:
    refused = remote.post("/v1/keys", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    assert len(keys.listing(runtime.engine, None)) == 1
