from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route
from starlette.testclient import TestClient

from agent_runtime.core import limits


def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[1]
    return doc["components"]["schemas"][name]


def test_openapi_matches_the_real_routes(client: TestClient) -> None:
    doc = document(client)
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, method, _op in operations(doc)}
    real = {
        (route.path, method)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.include_in_schema
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert documented == real and len(documented) == 69
    assert ("/v1/agents/{agent_id}/messages/stream", "POST") in documented
    ids = [op["operationId"] for _path, _method, op in operations(doc)]
    assert len(set(ids)) == len(ids)
    assert all(op.get("summary") for _path, _method, op in operations(doc))


def test_every_path_parameter_is_declared(client: TestClient) -> None:
    for path, method, op in operations(document(client)):
        named = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert named == declared, (method, path)
        assert all(p["required"] for p in op.get("parameters", []) if p["in"] == "path")


FOREIGN_FORMATS = {"/v1/agents/import/letta", "/v1/chat/completions"}


def test_bodies_and_responses_have_schemas(client: TestClient) -> None:
    doc = document(client)
    for path, method, op in operations(doc):
        if "requestBody" in op:
            body = resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
            # Other systems' formats carry fields recalld does not read; ours refuse them.
            extra = path in FOREIGN_FORMATS
            assert body["type"] == "object" and body.get("additionalProperties") is extra, path
        for status, answer in op["responses"].items():
            if status == "204":
                assert "content" not in answer
                continue
            (media, content), *_ = answer["content"].items()
            if int(status) >= 400:
                assert content["schema"]["$ref"].endswith("/ErrorBody"), (method, path, status)
            elif media == "application/json":
                assert resolve(doc, content["schema"])["type"] == "object", (method, path)
            else:
                assert media == "text/event-stream" and path.endswith(("/stream", "/events"))
    error = doc["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message"} and "field" in error["properties"]


def test_documented_error_statuses_follow_from_the_inputs(client: TestClient) -> None:
    doc = document(client)
    create = doc["paths"]["/v1/agents"]["post"]["responses"]
    assert {"201", "401", "413", "422"} <= set(create)
    send = doc["paths"]["/v1/agents/{agent_id}/messages"]["post"]["responses"]
    assert {"200", "404", "409", "413", "422", "429", "502", "504"} <= set(send)
    assert set(doc["paths"]["/v1/health"]["get"]["responses"]) == {"200"}


def test_limits_show_in_the_schema(client: TestClient) -> None:
    doc = document(client)
    schemas = doc["components"]["schemas"]

    def prop(model: str, name: str) -> dict[str, Any]:
        value = schemas[model]["properties"][name]
        options = [o for o in value.get("anyOf", [value]) if o.get("type") != "null"]
        return options[0]

    assert prop("AgentCreate", "system")["maxLength"] == limits.MAX_SYSTEM_CHARS
    assert prop("AgentCreate", "name")["maxLength"] == limits.MAX_AGENT_NAME_CHARS
    assert prop("AgentCreate", "model")["maxLength"] == limits.MAX_MODEL_CHARS
    assert prop("AgentCreate", "model_base_url")["maxLength"] == limits.MAX_BASE_URL_CHARS
    assert prop("AgentCreate", "blocks")["maxItems"] == limits.MAX_BLOCKS_PER_AGENT
    assert prop("BlockCreate", "description")["maxLength"] == limits.MAX_BLOCK_DESCRIPTION_CHARS
    assert prop("BlockCreate", "limit")["maximum"] == limits.MAX_BLOCK_LIMIT
    tags = prop("PassageCreate", "tags")
    assert tags["maxItems"] == limits.MAX_TAGS
    assert tags["items"]["maxLength"] == limits.MAX_TAG_CHARS
    assert prop("PassageCreate", "text")["maxLength"] == limits.MAX_PASSAGE_CHARS
    assert prop("JobCreate", "goal")["maxLength"] == limits.MAX_GOAL_CHARS
    assert prop("ImportHistory", "messages")["maxItems"] == limits.MAX_IMPORT
    assert prop("InputMessage", "content")["maxLength"] == limits.MAX_INPUT_CHARS
    assert prop("InputMessage", "role")["enum"] == ["user", "system"]

    archival = doc["paths"]["/v1/agents/{agent_id}/archival"]["get"]["parameters"]
    query = {p["name"]: p["schema"] for p in archival}
    assert query["query"]["maxLength"] == limits.MAX_QUERY_CHARS
    assert query["offset"]["maximum"] == limits.MAX_OFFSET
    assert query["after"] == {"type": "integer", "minimum": 0, "maximum": limits.MAX_ID_VALUE}
    delete = doc["paths"]["/v1/agents/{agent_id}/archival/{passage_id}"]["delete"]
    passage_id = next(p for p in delete["parameters"] if p["name"] == "passage_id")["schema"]
    assert passage_id["type"] == "integer" and passage_id["maximum"] == limits.MAX_ID_VALUE


def test_streams_describe_their_events(client: TestClient) -> None:
    doc = document(client)
    stream = doc["paths"]["/v1/agents/{agent_id}/messages/stream"]["post"]["responses"]["200"]
    options = stream["content"]["text/event-stream"]["schema"]["oneOf"]
    data_of = {
        o["properties"]["event"]["const"]: o["properties"]["data"]["contentSchema"]["$ref"]
        for o in options
    }
    assert set(data_of) == {
        "user_message",
        "assistant_message",
        "tool_call",
        "tool_result",
        "assistant_delta",
        "tool_call_delta",
        "delta_reset",
        "done",
        "error",
    }
    assert data_of["done"].endswith("/TurnDone") and data_of["error"].endswith("/ErrorBody")
    assert data_of["assistant_delta"].endswith("/AssistantDelta")


def test_a_body_is_required_when_a_field_is(client: TestClient) -> None:
    paths = document(client)["paths"]
    assert paths["/v1/agents"]["post"]["requestBody"]["required"] is True
    assert paths["/v1/agents/{agent_id}"]["patch"]["requestBody"]["required"] is False
