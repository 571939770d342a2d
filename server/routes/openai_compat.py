"""/v1/chat/completions and /v1/models: the agents behind OpenAI's chat API, so the official
OpenAI SDKs (and what is built on them) reach an agent with base_url `<server>/v1` and model
`agent/NAME`. The agent does the remembering: a client resends its conversation as usual, and
only what follows the last assistant message is new to the agent."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from agent_runtime.core.errors import NotFound
from agent_runtime.core.limits import MAX_INPUT_CHARS, MAX_PAGE
from agent_runtime.llm import Delta as Piece
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Agent, Message
from agent_runtime.turns.loop import EventSink, TurnResult
from server import sse
from server.api import Call, Operation
from server.openai_models import (
    BETWEEN_MESSAGES,
    MAX_CHAT_MESSAGES,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    Delta,
    FinishReason,
    ModelList,
    ModelOut,
    completion_id,
    finish_reason,
    spoken,
    usage_of,
)
from server.responses import Usage
from server.routes.messages import PROVIDER_ERRORS
from server.schemas import SendHeaders
from server.watched_turn import DeltaSink, watch

MAX_MODELS = 20 * MAX_PAGE  # agents listed by /v1/models; /v1/agents pages through any more


@dataclass(frozen=True)
class Turn:
    agent_id: str
    inputs: list[tuple[str, str]]
    idempotency_key: str | None
    user_id: str | None

    def run(
        self,
        runtime: Runtime,
        tenant: str,
        on_message: EventSink | None = None,
        on_delta: DeltaSink | None = None,
    ) -> TurnResult:
        return runtime.send(
            self.agent_id,
            self.inputs,
            tenant=tenant,
            on_message=on_message,
            on_delta=on_delta,
            idempotency_key=self.idempotency_key,
            user_id=self.user_id,
        )


def find_agent(runtime: Runtime, ref: str, tenant: str) -> str:
    agent = runtime.find_agent(ref, tenant=tenant)
    if agent is None:
        raise NotFound(
            f"model 'agent/{ref}' names none of your agents (GET /v1/models lists them)",
            field="model",
        )
    return agent.id


async def create_chat_completion(call: Call) -> ChatCompletion | StreamingResponse:
    body = call.body(ChatCompletionRequest)
    created = int(time.time())
    inputs = body.new_inputs()
    agent_id = await run_in_threadpool(find_agent, call.runtime, body.agent, call.tenant)
    turn = Turn(agent_id, inputs, call.headers(SendHeaders).idempotency_key, body.user)
    if body.stream:
        return await _stream(call, body, turn, created)
    result = await run_in_threadpool(turn.run, call.runtime, call.tenant)
    return ChatCompletion.of(result, body.model, created)


async def _stream(
    call: Call, body: ChatCompletionRequest, turn: Turn, created: int
) -> StreamingResponse:
    runtime, tenant = call.runtime, call.tenant
    # Every refusal before the 200: once the stream starts, an error is only a chunk.
    await run_in_threadpool(runtime.check_turn, turn.agent_id, turn.inputs, tenant=tenant)
    where = f"the chat completion stream of {turn.agent_id}"
    watched = watch(call, functools.partial(turn.run, runtime, tenant), where, deltas=True)
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    chunks = Chunks(body.model, created, include_usage)

    async def lines() -> AsyncIterator[str]:
        async for kind, payload in watched:
            if kind == "delta":
                for line in chunks.delta(payload[1]):
                    yield line
            elif kind == "message":
                for line in chunks.message(payload):
                    yield line
            elif kind == "done":
                for line in chunks.done(payload):
                    yield line
            else:
                # No `event:` line: the OpenAI SDKs raise an APIError on a data line holding
                # an `error` object.
                yield f"data: {json.dumps(payload)}\n\n"

    return sse.response(lines(), where)


class Chunks:
    """A turn as `chat.completion.chunk` lines: a role delta, the assistant's text as the model
    streams it, a last chunk with finish_reason, the usage if asked, then [DONE].

    Each step's text is sent as its pieces arrive; the step's committed message then sends only
    what the pieces did not (all of it when the model was not streamed, as in a replayed turn).
    A chunk cannot be taken back: when a retry voids a step's pieces, the rest of that step is
    sent from its committed message, after the part already sent if the retry said the same."""

    def __init__(self, model: str, created: int, include_usage: bool) -> None:
        self.model, self.created, self.include_usage = model, created, include_usage
        self.id: str | None = None  # the turn's, known from its first row
        self.said = 0  # assistant texts begun
        self.sent: str | None = None  # the current step's text sent from its pieces
        self.voided = False  # a retry voided the current step's pieces

    def delta(self, piece: Piece) -> list[str]:
        if piece.kind == "restart":
            self.voided = self.sent is not None
            return []
        if piece.kind != "text" or not piece.text or self.voided:
            return []
        out = []
        if self.sent is None:  # this step's text begins, after the last one's
            if self.said:
                out.append(self._delta(Delta(content=BETWEEN_MESSAGES)))
            self.said += 1
            self.sent = ""
        self.sent += piece.text
        return [*out, self._delta(Delta(content=piece.text))]

    def message(self, row: Message) -> list[str]:
        out = self._start(row.turn_id)
        sent, self.sent, self.voided = self.sent, None, False
        for text in spoken([row]):
            if sent is None:
                out.append(self._text(text))
            elif text.startswith(sent):
                if text != sent:
                    out.append(self._delta(Delta(content=text[len(sent) :])))
            else:  # a retry said something else: the committed text follows what was sent
                out.append(self._text(text))
        return out

    def _text(self, text: str) -> str:
        """A new assistant text: after the one before, a blank line between them."""
        out = self._delta(Delta(content=(BETWEEN_MESSAGES if self.said else "") + text))
        self.said += 1
        return out

    def done(self, result: TurnResult) -> list[str]:
        out = self._start(result.turn_id)
        for row in result.messages if result.replayed else []:  # the saved turn, replayed
            out += self.message(row)
        out.append(self._delta(Delta(), finish_reason(result.stop_reason)))
        if self.include_usage:
            out.append(_data(self._chunk([], usage_of(result))))
        return [*out, "data: [DONE]\n\n"]

    def _start(self, turn_id: str) -> list[str]:
        if self.id is not None:
            return []
        self.id = completion_id(turn_id)
        return [self._delta(Delta(role="assistant", content=""))]

    def _delta(self, delta: Delta, finish: FinishReason | None = None) -> str:
        choice = ChunkChoice(index=0, delta=delta, logprobs=None, finish_reason=finish)
        return _data(self._chunk([choice]))

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        extra = {} if usage is None else {"usage": usage}  # only the usage chunk has one
        return ChatCompletionChunk(
            id=self.id or "",
            object="chat.completion.chunk",
            created=self.created,
            model=self.model,
            choices=choices,
            **extra,
        )


def _data(model: BaseModel) -> str:
    # ASCII JSON, as every stream of ours: any text, even a lone surrogate, can be sent.
    return f"data: {json.dumps(model.model_dump(mode='json', exclude_unset=True))}\n\n"


def all_agents(
    runtime: Runtime, tenant: str, *, page: int = MAX_PAGE, most: int = MAX_MODELS
) -> list[Agent]:
    """The tenant's agents, oldest first, at most `most` of them, read `page` at a time."""
    agents: list[Agent] = []
    while len(agents) < most:
        after = agents[-1].id if agents else None
        rows = runtime.list_agents(tenant=tenant, limit=page, after=after)
        agents += rows
        if len(rows) < page:
            break
    return agents[:most]


async def list_models(call: Call) -> ModelList:
    agents = await run_in_threadpool(all_agents, call.runtime, call.tenant)
    return ModelList(object="list", data=[ModelOut.of(a) for a in agents])


operations = [
    Operation(
        "POST",
        "/v1/chat/completions",
        create_chat_completion,
        "OpenAI-compatible chat: run an agent's turn",
        "For the OpenAI SDKs: base_url <server>/v1, api_key a recalld key, model 'agent/NAME' or "
        "'agent/ID'. The agent remembers its conversation, so send only new messages; a client "
        "that resends the whole conversation each call is fine, as only the messages after the "
        "last assistant message are new input (user; system and developer as system). Earlier "
        "messages are not read; a tool message among the new ones is refused (422), as the "
        "agent runs its own tools and never returns tool_calls. Text content parts are joined; "
        "other parts are refused. The reply is every assistant text of the turn, joined by a "
        "blank line; finish_reason is 'length' when the turn stopped at the agent's max_steps; "
        "usage is the turn's tokens. `user` is the turn's user_id. stream: true answers with "
        "Server-Sent Events of chat.completion.chunk objects (a role delta, the assistant's "
        "text as the model streams it, a chunk with finish_reason, the usage chunk if "
        "stream_options.include_usage, then data: [DONE]); an error after the stream starts is "
        'a data line holding {"error": ...}, which the SDKs raise. Unlike recalld\'s other '
        "bodies, unknown fields are accepted and ignored (temperature, top_p, max_tokens, stop, "
        "tools, seed, ...: the agent's own model settings apply); n must be 1. At most "
        f"{MAX_CHAT_MESSAGES} messages (history included) of at most {MAX_INPUT_CHARS:,} "
        "characters each; more new ones than RECALLD_MAX_MESSAGES_PER_SEND is a 413. The SDK "
        "retries 409, 429 and 5xx: send an Idempotency-Key header (extra_headers) so that a "
        "retry replays the turn instead of running it again.",
        headers=SendHeaders,
        body=ChatCompletionRequest,
        response=ChatCompletion,
        errors=(404, *PROVIDER_ERRORS),
    ),
    Operation(
        "GET",
        "/v1/models",
        list_models,
        "OpenAI-compatible list of models: the caller's agents",
        f"Each agent as the model 'agent/NAME', oldest first; at most {MAX_MODELS:,} of them "
        "(GET /v1/agents pages through any more).",
        response=ModelList,
    ),
]
