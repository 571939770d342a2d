"""The OpenAI chat API's shapes, as far as recalld speaks them (`server/routes/openai_compat.py`).

Requests are lenient where recalld's own bodies are strict: they ignore the fields an OpenAI
client commonly sends that mean nothing to an agent with its own model and memory (temperature,
tools, max_tokens, ...), so the official SDKs work unchanged; their schemas say so
(`additionalProperties: true`). What recalld reads is still typed and bounded. Responses are
built as OpenAI documents them, with the turn's text and usage.
"""

from __future__ import annotations

import calendar
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.limits import (
    MAX_AGENT_NAME_CHARS,
    MAX_ID_CHARS,
    MAX_INPUT_CHARS,
)
from agent_runtime.memory.messages import check_input
from agent_runtime.storage.tables import Agent, Message
from agent_runtime.turns.loop import TurnResult
from server.responses import Out, Usage
from server.schemas import Id

MODEL_PREFIX = "agent/"
# An agent as a model: agent/NAME or agent/ID (ids look like agent-<hex>).
AGENT_MODEL = re.compile(r"agent/(.+)")
MAX_PARTS = 100  # content parts in one message; each part is bounded as a message is
# Messages in one request, most of them the history a client resends and recalld does not read.
# 500 messages are more than a model's window holds, so a client that works with OpenAI's models
# trims its history well before; the body limit (RECALLD_MAX_BODY_BYTES) bounds their size.
MAX_CHAT_MESSAGES = 500
FinishReason = Literal["stop", "length"]
# The assistant messages of one turn, as one reply (streamed, each is a delta of it).
BETWEEN_MESSAGES = "\n\n"


def _agent_model(value: str) -> str:
    if not AGENT_MODEL.fullmatch(value):
        raise ValueError(
            "must name one of your agents as agent/NAME or agent/ID (GET /v1/models lists them)"
        )
    return value


def _one(value: int) -> int:
    if value != 1:
        raise ValueError("must be 1: an agent gives one answer per turn")
    return value


AgentModel = Annotated[
    str,
    Field(
        max_length=len(MODEL_PREFIX) + max(MAX_AGENT_NAME_CHARS, MAX_ID_CHARS),
        json_schema_extra={"pattern": f"^{AGENT_MODEL.pattern}$"},
    ),
    AfterValidator(_agent_model),
]
One = Annotated[
    int,
    AfterValidator(_one),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 1}),
]
Text = Annotated[str, Field(max_length=MAX_INPUT_CHARS)]


class Lenient(BaseModel):
    """Typed where recalld reads it; any other field is accepted and ignored."""

    model_config = ConfigDict(
        extra="ignore", strict=True, json_schema_extra={"additionalProperties": True}
    )


class ContentPart(Lenient):
    type: Annotated[str, Field(max_length=40)]
    text: Text | None = None


class ChatMessage(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | Annotated[list[ContentPart], Field(max_length=MAX_PARTS)] | None = None

    def text(self, where: str) -> str:
        """The content as text: a string, or text parts joined by new lines."""
        if isinstance(self.content, str):
            return self.content
        if self.content is None:
            raise InvalidInput(f"'{where}.content' is required", field=f"{where}.content")
        for i, part in enumerate(self.content):
            if part.type != "text" or part.text is None:
                raise InvalidInput(
                    f"'{where}.content[{i}]' is a {part.type!r} part; an agent reads text only",
                    field=f"{where}.content[{i}]",
                )
        return "\n".join(part.text or "" for part in self.content)


class StreamOptions(Lenient):
    include_usage: bool = False


class ChatCompletionRequest(Lenient):
    model: AgentModel
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=MAX_CHAT_MESSAGES,
        description="the conversation as the client holds it; only the messages after its last "
        "assistant message are new",
    )
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: One | None = None
    user: Id | None = Field(
        None, description="the user this turn serves (recalld's user_id): their facts only"
    )

    @property
    def agent(self) -> str:
        """The agent's name or id."""
        return self.model.removeprefix(MODEL_PREFIX)

    def new_inputs(self) -> list[tuple[str, str]]:
        """(role, text) of the messages after the last assistant message. The agent remembers
        its conversation, so the history a client resends is not read again; a tool result is
        refused, as recalld never hands the client a tool call to answer."""
        last = max((i for i, m in enumerate(self.messages) if m.role == "assistant"), default=-1)
        inputs = []
        for i, message in enumerate(self.messages[last + 1 :], start=last + 1):
            where = f"messages[{i}]"
            if message.role in ("tool", "function"):
                raise InvalidInput(
                    f"'{where}' is a {message.role} message: the agent runs its own tools and "
                    "never returns tool_calls, so there is no call for it to answer",
                    field=f"{where}.role",
                )
            role = "user" if message.role == "user" else "system"  # developer is system
            text = message.text(where)
            try:
                check_input(role, text)  # here, to name the message as the request counts them
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc.message}", field=f"{where}.{exc.field}") from exc
            inputs.append((role, text))
        if not inputs:
            raise InvalidInput(
                "no new message: the messages end with an assistant message, and only those "
                "after the last assistant message are sent to the agent",
                field="messages",
            )
        return inputs


def spoken(messages: list[Message]) -> list[str]:
    """What the agent said in these messages: each assistant message with text."""
    return [m.content for m in messages if m.role == "assistant" and m.content]


def finish_reason(stop_reason: str) -> FinishReason:
    return "length" if stop_reason == "max_steps" else "stop"


def usage_of(result: TurnResult) -> Usage:
    usage = result.usage
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


# -- responses -------------------------------------------------------------------------------


class AssistantMessage(Out):
    role: Literal["assistant"]
    content: str


class Choice(Out):
    index: int
    message: AssistantMessage
    logprobs: None
    finish_reason: FinishReason


class ChatCompletion(Out):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str  # as the request named it
    choices: list[Choice]
    usage: Usage

    @classmethod
    def of(cls, result: TurnResult, model: str, created: int) -> ChatCompletion:
        text = BETWEEN_MESSAGES.join(spoken(result.messages))
        choice = Choice(
            index=0,
            message=AssistantMessage(role="assistant", content=text),
            logprobs=None,
            finish_reason=finish_reason(result.stop_reason),
        )
        return cls(
            id=completion_id(result.turn_id),
            object="chat.completion",
            created=created,
            model=model,
            choices=[choice],
            usage=usage_of(result),
        )


def completion_id(turn_id: str) -> str:
    """The completion is the turn: its id leads to the turn in the agent's history."""
    return f"chatcmpl-{turn_id}"


class Delta(Out):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(Out):
    index: int
    delta: Delta
    logprobs: None
    finish_reason: FinishReason | None


class ChatCompletionChunk(Out):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]  # empty in the usage chunk (stream_options.include_usage)
    usage: Usage | None = None


class ModelOut(Out):
    id: str  # agent/NAME
    object: Literal["model"]
    created: int
    owned_by: str

    @classmethod
    def of(cls, agent: Agent) -> ModelOut:
        # utctimetuple: SQLite gives stored (UTC) times back without a zone.
        created = calendar.timegm(agent.created_at.utctimetuple())
        return cls(
            id=MODEL_PREFIX + agent.name, object="model", created=created, owned_by="recalld"
        )


class ModelList(Out):
    object: Literal["list"]
    data: list[ModelOut]
