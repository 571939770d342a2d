"""Request parsing and response shapes. Table rows never leave the server as they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.requests import Request

from agent_runtime.context import Breakdown
from agent_runtime.errors import InvalidInput
from agent_runtime.loop import TurnResult
from agent_runtime.specs import BlockSpec, MessageInput
from agent_runtime.storage.tables import Agent, Block, Job, Message, Passage
from memory_tools import Hit, ToolError
from memory_tools.results import parse_day

T = TypeVar("T")
MISSING: Any = object()


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return body


def field(
    body: dict[str, Any],
    name: str,
    kind: type[T] | tuple[type, ...],
    default: Any = MISSING,
) -> Any:
    """`body[name]` checked against `kind`; missing uses `default` or is a named 422."""
    if name not in body or body[name] is None:
        if default is MISSING:
            raise InvalidInput(f"'{name}' is required", field=name)
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise InvalidInput(f"'{name}' must be {_names(kinds)}", field=name)
    if not isinstance(value, kinds):
        raise InvalidInput(f"'{name}' must be {_names(kinds)}", field=name)
    return value


def string_list(body: dict[str, Any], name: str) -> list[str]:
    value = field(body, name, list, [])
    if not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"'{name}' must be a list of strings", field=name)
    return list(value)


def nested_object(raw: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    """An object inside the body (a list item, say), with no fields but `allowed`."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"'{where}' must be an object", field=where)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field(s) {unknown} in '{where}'", field=where)
    return raw


def block_spec(raw: Any, where: str) -> BlockSpec:
    raw = nested_object(raw, where, {"label", "value", "limit", "description", "read_only"})
    return BlockSpec(
        label=field(raw, "label", str),
        value=field(raw, "value", str, ""),
        limit=field(raw, "limit", int, 2000),
        description=field(raw, "description", str, ""),
        read_only=field(raw, "read_only", bool, False),
    )


def message_input(raw: Any, where: str) -> MessageInput:
    """One message of imported history; errors name it ("messages[3]: 'role' is required")."""
    raw = nested_object(raw, where, {"role", "content", "created_at"})
    try:
        return MessageInput(
            role=field(raw, "role", str),
            content=field(raw, "content", str),
            created_at=parse_time(field(raw, "created_at", str, None), "created_at"),
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}", field=f"{where}.{exc.field}") from exc


def reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {unknown}; allowed: {sorted(allowed)}", field=unknown[0]
        )


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"'{name}' must be a whole number", field=name) from exc
    if not low <= value <= high:
        raise InvalidInput(f"'{name}' must be {low} to {high}", field=name)
    return value


def query_list(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values += [v.strip() for v in raw.split(",") if v.strip()]
    return values


def parse_time(raw: str | None, name: str, *, end: bool = False) -> datetime | None:
    try:
        return parse_day(raw, name, end=end)
    except ToolError as exc:
        raise InvalidInput(str(exc), field=name) from exc


def _names(kinds: tuple[type, ...]) -> str:
    words = {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        list: "a list",
        dict: "an object",
        float: "a number",
    }
    return " or ".join(words.get(k, k.__name__) for k in kinds)


def time_out(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


# -- responses -----------------------------------------------------------------------------------


def agent_out(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "model": agent.model,
        "model_base_url": agent.model_base_url,
        "context_window": agent.context_window,
        "embedding": agent.embedding,
        "system": agent.instructions,
        "max_steps": agent.max_steps,
        "message_count": agent.message_count,
        "passage_count": agent.passage_count,
        "last_stop_reason": agent.last_stop_reason,
        "created_at": time_out(agent.created_at),
        "updated_at": time_out(agent.updated_at),
    }


def block_out(block: Block) -> dict[str, Any]:
    return {
        "id": block.id,
        "label": block.label,
        "value": block.value,
        "limit": block.limit,
        "size": len(block.value),
        "description": block.description,
        "read_only": block.read_only,
        "updated_at": time_out(block.updated_at),
    }


def message_out(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "created_at": time_out(message.created_at),
        "turn_id": message.turn_id,
        "step": message.step,
        "in_context": message.in_context,
    }
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
        out["name"] = message.name
    return out


def passage_out(passage: Passage) -> dict[str, Any]:
    return {
        "id": passage.id,
        "text": passage.text,
        "tags": list(passage.tags),
        "origin": passage.origin,
        "created_at": time_out(passage.created_at),
    }


def hit_out(hit: Hit) -> dict[str, Any]:
    out: dict[str, Any] = {"id": hit.id, "text": hit.text, "created_at": time_out(hit.created_at)}
    if hit.tags:
        out["tags"] = hit.tags
    if hit.role:
        out["role"] = hit.role
    return out


def turn_out(result: TurnResult) -> dict[str, Any]:
    return {
        "turn_id": result.turn_id,
        "messages": [message_out(m) for m in result.messages],
        "stop_reason": result.stop_reason,
        "steps": result.steps,
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.total_tokens,
        },
    }


def job_out(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "agent_id": job.agent_id,
        "goal": job.goal,
        "status": job.status,
        "stop_reason": job.stop_reason,
        "steps": job.steps,
        "max_steps": job.max_steps,
        "max_duration": job.max_duration_seconds,
        "tokens": {
            "prompt": job.prompt_tokens,
            "completion": job.completion_tokens,
            "total": job.prompt_tokens + job.completion_tokens,
        },
        "progress_note": job.progress_note,
        "result": job.result,
        "error": job.error,
        "schedule": job.schedule,
        "schedule_root": job.schedule_root,
        "attempts": job.attempts,
        "run_after": time_out(job.run_after),
        "created_at": time_out(job.created_at),
        "started_at": time_out(job.started_at),
        "finished_at": time_out(job.finished_at),
    }


def context_out(breakdown: Breakdown) -> dict[str, Any]:
    return breakdown.as_dict()
