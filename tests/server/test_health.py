from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient


def test_health(client: TestClient) -> None:
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["database"] in ("sqlite", "postgresql")


def test_openapi_matches_the_real_routes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    real = {
        (route.path, method)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.include_in_schema
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert documented == real
    assert ("/v1/agents/{agent_id}/messages/stream", "POST") in documented
    for ops in document["paths"].values():
        for op in ops.values():
            assert op.get("summary"), op


def test_unexpected_errors_are_a_generic_500(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    def explode(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internals")

    runtime.list_agents = explode
    with TestClient(
        client.app,
        raise_server_exceptions=False,  # type: ignore[arg-type]
        client=("127.0.0.1", 1),
    ) as quiet:
        response = quiet.get("/v1/agents")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal server error"}}
