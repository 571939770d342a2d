"""/v1/agents/{id}/messages: run a turn (whole, or streamed as Server-Sent Events); history."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent_runtime.errors import InvalidInput, RecalldError
from agent_runtime.storage.tables import Message
from server.context import Caller, caller
from server.errors import error_body
from server.schemas import field, json_object, message_out, query_int, reject_unknown, turn_out

log = logging.getLogger("recalld.server")


async def _inputs(request: Request) -> tuple[list[tuple[str, str]], int | None]:
    body = await json_object(request)
    reject_unknown(body, {"messages", "max_steps"})
    raw = field(body, "messages", list)
    if not raw:
        raise InvalidInput("'messages' must hold at least one message", field="messages")
    inputs = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(f"'messages[{i}]' must be an object", field=f"messages[{i}]")
        inputs.append((field(item, "role", str, "user"), field(item, "content", str)))
    return inputs, field(body, "max_steps", int, None)


async def send_messages(request: Request) -> Response:
    """
    ---
    summary: Send messages and run the agent's turn
    description: Returns the new messages (assistant replies, tool calls, tool results), the stop
      reason (end_turn, max_steps, error, cancelled) and token usage.
    responses:
      200: {description: The turn}
      409: {description: The agent is busy with another turn}
      502: {description: The model provider failed}
      504: {description: The model provider timed out}
    """
    who = caller(request)
    inputs, max_steps = await _inputs(request)
    result = await run_in_threadpool(
        who.runtime.send,
        request.path_params["agent_id"],
        inputs,
        tenant=who.tenant,
        max_steps=max_steps,
    )
    return JSONResponse(turn_out(result))


def _sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _events_for(message: Message) -> list[str]:
    out = message_out(message)
    if message.role == "user" or message.role == "system":
        return [_sse("user_message", out, str(message.id))]
    if message.role == "tool":
        return [_sse("tool_result", out, str(message.id))]
    events = []
    if message.content:
        events.append(_sse("assistant_message", out, str(message.id)))
    for call in out.get("tool_calls", []):
        events.append(_sse("tool_call", {**call, "message_id": message.id}, str(message.id)))
    return events


async def stream_messages(request: Request) -> Response:
    """
    ---
    summary: Send messages and stream the turn as Server-Sent Events
    description: "Events: user_message, assistant_message, tool_call, tool_result, then done
      (stop reason and usage) or error. A client that disconnects does not stop or corrupt the
      turn: it runs to the end and every step is committed."
    responses:
      200: {description: text/event-stream}
    """
    who = caller(request)
    inputs, max_steps = await _inputs(request)
    agent_id = request.path_params["agent_id"]
    await run_in_threadpool(who.runtime.get_agent, agent_id, tenant=who.tenant)
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def put(item: tuple[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work(who: Caller = who) -> None:
        try:
            result = who.runtime.send(
                agent_id,
                inputs,
                tenant=who.tenant,
                max_steps=max_steps,
                on_message=lambda _kind, row: put(("message", row)),
            )
            put(("done", result))
        except RecalldError as exc:
            put(("error", error_body(exc.code, exc.message, exc.field)))
        except Exception:
            log.exception("streamed turn failed for %s", agent_id)
            put(("error", error_body("internal", "internal server error")))

    # The turn runs on its own; the response only watches it.
    task = asyncio.ensure_future(run_in_threadpool(work))
    request.app.state.background.add(task)
    task.add_done_callback(request.app.state.background.discard)

    async def events() -> AsyncIterator[str]:
        while True:
            kind, payload = await queue.get()
            if kind == "message":
                for event in _events_for(payload):
                    yield event
            elif kind == "done":
                body = turn_out(payload)
                body.pop("messages")
                yield _sse("done", body)
                return
            else:
                yield _sse("error", payload)
                return

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def list_messages(request: Request) -> Response:
    """
    ---
    summary: Message history, oldest first
    parameters:
      - {name: limit, in: query, schema: {type: integer}}
      - {name: before, in: query, description: message id; the page before it (default newest)}
      - {name: after, in: query, description: message id; the page after it}
    responses:
      200: {description: "{data: [message]}"}
    """
    who = caller(request)
    limit = query_int(request, "limit", 50, 1, 500)
    before = query_int(request, "before", 0, 0, 2**62) or None
    after = query_int(request, "after", -1, -1, 2**62)
    rows = await run_in_threadpool(
        who.runtime.messages,
        request.path_params["agent_id"],
        tenant=who.tenant,
        limit=limit,
        before=before,
        after=None if after < 0 else after,
    )
    return JSONResponse({"data": [message_out(m) for m in rows]})


routes = [
    Route("/v1/agents/{agent_id}/messages", send_messages, methods=["POST"]),
    Route("/v1/agents/{agent_id}/messages/stream", stream_messages, methods=["POST"]),
    Route("/v1/agents/{agent_id}/messages", list_messages, methods=["GET"]),
]
