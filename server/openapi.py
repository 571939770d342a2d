"""The OpenAPI 3.1 document, built from the operations' declarations and the very models their
handlers parse and return (`server/api.py`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api import Operation
from server.responses import ErrorBody

REF = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]
Refs = dict[tuple[Any, Mode], dict[str, Any]]

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted; the work is queued",
    204: "Done; no content",
    401: "No valid API key (with no key configured, only loopback clients are served)",
    403: "The key may not do this (managing keys needs an admin key)",
    404: "Not found, or not this tenant's",
    409: "Conflict: the agent is busy with another turn, or the resource exists",
    413: "Too large: the body is over max_body_bytes (RECALLD_MAX_BODY_BYTES), or a value is "
    "over its limit",
    422: "Invalid input; error.field names it, as messages[3].content",
    429: "The model provider is rate limiting",
    502: "The model provider failed",
    504: "The model provider timed out",
}


def document(operations: list[Operation], *, title: str, version: str) -> dict[str, Any]:
    models: dict[tuple[type[BaseModel], Mode], None] = {(ErrorBody, "serialization"): None}
    for op in operations:
        if op.body is not None:
            models[(op.body, "validation")] = None
        if op.response is not None:
            models[(op.response, "serialization")] = None
        if op.accepted is not None:
            models[(op.accepted, "serialization")] = None
        for model in op.events.values():
            if model is not None:
                models[(model, "serialization")] = None
    refs, top = models_json_schema(list(models), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": 'Errors are always {"error": {"code", "message", "field"?}}. '
            "Once an API key exists, every request needs 'Authorization: Bearer <key>'.",
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(op: Operation, refs: Refs) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
    if op.description:
        out["description"] = op.description
    parameters = []
    for model, where in (
        (op.path_params, "path"),
        (op.query, "query"),
        (op.headers, "header"),
    ):
        if model is not None:
            parameters += _parameters(model, where)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        schema = refs[(op.body, "validation")]
        out["requestBody"] = {
            # A body with nothing required may be left out: no body is read as {}.
            "required": any(f.is_required() for f in op.body.model_fields.values()),
            "content": {"application/json": {"schema": schema}},
        }
    error = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    responses: dict[str, Any] = {}
    for status in op.statuses:
        answer: dict[str, Any] = {"description": STATUS_TEXT[status]}
        if status >= 400:
            answer["content"] = error
        elif status == 202 and op.accepted is not None:
            answer["content"] = {
                "application/json": {"schema": refs[(op.accepted, "serialization")]}
            }
        elif op.events:
            answer["description"] = "Server-Sent Events"
            answer["content"] = {"text/event-stream": {"schema": _event_schema(op, refs)}}
        elif op.response is not None:
            answer["content"] = {
                "application/json": {"schema": refs[(op.response, "serialization")]}
            }
        responses[str(status)] = answer
    out["responses"] = responses
    if not op.public:
        out["security"] = [{}, {"bearer": []}]
    return out


def _event_schema(op: Operation, refs: Refs) -> dict[str, Any]:
    """One event of the stream (OpenAPI 3.1 reads an event stream's schema per event): its name,
    and its data as JSON text of the event's model."""
    data_of = {**op.events, "error": ErrorBody}
    options = []
    for name, model in data_of.items():
        data = {"type": "object"} if model is None else refs[(model, "serialization")]
        event: dict[str, Any] = {"type": "string"} if name == "*" else {"const": name}
        if name == "*":
            event["not"] = {"enum": sorted(set(data_of) - {"*"})}
        options.append(
            {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": event,
                    "id": {"type": "string"},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": data,
                    },
                },
            }
        )
    return {"oneOf": options}


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation")
    assert "$defs" not in schema, f"{model.__name__}: parameters are plain values"
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", None)
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": _without_null(prop),
        }
        if description:
            param["description"] = description
        out.append(param)
    return out


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is absent, never null: `anyOf [X, null]` becomes X."""
    options = [o for o in schema.get("anyOf", ()) if o != {"type": "null"}]
    if "anyOf" not in schema or len(options) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**options[0], **rest}
