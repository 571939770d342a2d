"""/v1/agents/{id}/messages: run a turn (whole, or streamed as Server-Sent Events); history."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from agent_runtime.llm import Delta
from agent_runtime.storage.tables import Message
from agent_runtime.turns.loop import EventSink, TurnResult
from server import sse
from server.api import Call, Operation
from server.responses import (
    AssistantDelta,
    DeltaReset,
    MessageOut,
    MessagesOut,
    ToolCallDelta,
    ToolCallEvent,
    TurnDone,
    TurnOut,
)
from server.schemas import AgentPath, MessageList, SendHeaders, SendMessages
from server.watched_turn import DeltaSink, watch

PROVIDER_ERRORS = (409, 429, 502, 504)


async def _checked(
    call: Call,
) -> tuple[str, list[tuple[str, str]], SendMessages, str | None]:
    """The agent, the messages to send, the request and the idempotency key.
    `Runtime.send` checks the turn itself before it starts; a stream checks it first."""
    body = call.body(SendMessages)
    agent_id = call.path(AgentPath).agent_id
    inputs: list[tuple[str, str]] = [(m.role, m.content) for m in body.messages]
    return agent_id, inputs, body, call.headers(SendHeaders).idempotency_key


async def send_messages(call: Call) -> TurnOut:
    agent_id, inputs, body, key = await _checked(call)
    result = await run_in_threadpool(
        call.runtime.send,
        agent_id,
        inputs,
        tenant=call.tenant,
        max_steps=body.max_steps,
        idempotency_key=key,
        user_id=body.user_id,
    )
    return TurnOut.of(result)


def _events_for(message: Message) -> list[str]:
    out = MessageOut.of(message)
    data = out.model_dump(mode="json", exclude_unset=True)
    if message.role in ("user", "system"):
        return [sse.event("user_message", data, out.id)]
    if message.role == "tool":
        return [sse.event("tool_result", data, out.id)]
    events = []
    if message.content:
        events.append(sse.event("assistant_message", data, out.id))
    for tool_call in out.tool_calls:
        data = ToolCallEvent(**tool_call.model_dump(), message_id=out.id).model_dump()
        events.append(sse.event("tool_call", data, out.id))
    return events


def _delta_event(step: int, delta: Delta) -> str:
    if delta.kind == "text":
        return sse.event("assistant_delta", AssistantDelta(step=step, text=delta.text).model_dump())
    if delta.kind == "restart":
        return sse.event("delta_reset", DeltaReset(step=step).model_dump())
    piece = ToolCallDelta(
        step=step, index=delta.index, id=delta.call_id, name=delta.name, arguments=delta.text
    )
    return sse.event("tool_call_delta", piece.model_dump())


async def stream_messages(call: Call) -> StreamingResponse:
    agent_id, inputs, body, key = await _checked(call)
    runtime, tenant = call.runtime, call.tenant
    # Every refusal before the 200: once the stream starts, an error is only an event.
    await run_in_threadpool(runtime.check_turn, agent_id, inputs, tenant=tenant)

    def run(on_message: EventSink, on_delta: DeltaSink | None) -> TurnResult:
        return runtime.send(
            agent_id,
            inputs,
            tenant=tenant,
            max_steps=body.max_steps,
            on_message=on_message,
            on_delta=on_delta,
            idempotency_key=key,
            user_id=body.user_id,
        )

    watched = watch(call, run, f"the streamed turn of {agent_id}", deltas=body.tokens)

    async def events() -> AsyncIterator[str]:
        async for kind, payload in watched:
            if kind == "delta":
                yield _delta_event(*payload)
            elif kind == "message":
                for event in _events_for(payload):
                    yield event
            elif kind == "done":
                result: TurnResult = payload
                for message in result.messages if result.replayed else []:
                    for event in _events_for(message):  # the saved turn, as it was streamed
                        yield event
                yield sse.event("done", TurnDone.of(result).model_dump(mode="json"))
            else:
                yield sse.event("error", payload)

    return sse.response(events(), f"the turn stream of {agent_id}")


async def list_messages(call: Call) -> MessagesOut:
    query = call.query(MessageList)
    rows = await run_in_threadpool(
        call.runtime.messages,
        call.path(AgentPath).agent_id,
        tenant=call.tenant,
        limit=query.limit,
        before=query.before,
        after=query.after,
    )
    return MessagesOut(data=[MessageOut.of(m) for m in rows])


operations = [
    Operation(
        "POST",
        "/v1/agents/{agent_id}/messages",
        send_messages,
        "Send messages and run the agent's turn",
        "Returns the new messages (assistant replies, tool calls, tool results), the stop reason "
        "(end_turn, max_steps, error, cancelled) and token usage. At most max_messages_per_send "
        "messages (RECALLD_MAX_MESSAGES_PER_SEND); more is a 413.",
        path_params=AgentPath,
        headers=SendHeaders,
        body=SendMessages,
        response=TurnOut,
        errors=(404, *PROVIDER_ERRORS),
    ),
    Operation(
        "POST",
        "/v1/agents/{agent_id}/messages/stream",
        stream_messages,
        "Send messages and stream the turn as Server-Sent Events",
        "Events: user_message, assistant_message, tool_call, tool_result, then done (stop reason "
        "and usage) or error. With tokens: true, also assistant_delta and tool_call_delta as the "
        "model streams each step, before that step's committed messages, and delta_reset when a "
        "retry voids a step's pieces. The input is checked before the stream starts. A client that "
        "disconnects does not stop or corrupt the turn: it runs to the end and every step is "
        "committed.",
        path_params=AgentPath,
        headers=SendHeaders,
        body=SendMessages,
        events={
            "user_message": MessageOut,
            "assistant_message": MessageOut,
            "tool_call": ToolCallEvent,
            "tool_result": MessageOut,
            "assistant_delta": AssistantDelta,
            "tool_call_delta": ToolCallDelta,
            "delta_reset": DeltaReset,
            "done": TurnDone,
        },
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/agents/{agent_id}/messages",
        list_messages,
        "Message history, oldest first",
        "The newest page by default; before or after a message id for others.",
        path_params=AgentPath,
        query=MessageList,
        response=MessagesOut,
        errors=(404,),
    ),
]
