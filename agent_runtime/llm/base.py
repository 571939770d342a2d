"""The `LLM` protocol and the plain data that crosses it (OpenAI chat format)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model produced it; may be malformed

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class Delta:
    """A piece of a reply as the provider streams it.

    `text`: assistant text. `tool_call`: part of tool call `index` (its id and name come with
    the first piece, the arguments in pieces). `restart`: the pieces sent so far are void; a
    retry or a fallback model answers from the start.
    """

    kind: Literal["text", "tool_call", "restart"]
    text: str = ""
    index: int = 0
    call_id: str = ""
    name: str = ""


DeltaSink = Callable[[Delta], None]


@dataclass
class Pieces:
    """A sink that passes pieces on and remembers whether any went out, so that a call made
    again (a retry, a fallback model) can void them first."""

    sink: DeltaSink | None
    any: bool = False

    def __call__(self, delta: Delta) -> None:
        self.any = True
        if self.sink is not None:
            self.sink(delta)

    def restart(self) -> None:
        if self.any and self.sink is not None:
            self.sink(Delta("restart"))
        self.any = False


@dataclass(frozen=True)
class Attempt:
    """One call to a provider and how it went: `outcome` is "ok" or the error's code; `wait`
    the seconds slept before the next attempt."""

    model: str
    outcome: str
    seconds: float
    error: str | None = None
    wait: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "outcome": self.outcome,
            "seconds": round(self.seconds, 3),
        }
        if self.error is not None:
            out["error"] = self.error[:MAX_ATTEMPT_ERROR]
        if self.wait:
            out["wait"] = round(self.wait, 3)
        return out


MAX_ATTEMPT_ERROR = 300
AttemptSink = Callable[[Attempt], None]


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    base_url: str | None = None
    timeout: float = 120.0
    # None: the provider's own key from the server's environment (default endpoints only).
    api_key: str | None = field(default=None, repr=False)
    # Given, the model streams its reply here as it is made (and still returns it whole).
    on_delta: DeltaSink | None = field(default=None, repr=False, compare=False)
    # Given, a retrying model reports each provider call here; `retry_seconds` caps its retries.
    on_attempt: AttemptSink | None = field(default=None, repr=False, compare=False)
    retry_seconds: float | None = None


@dataclass(frozen=True)
class ChatResponse:
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class LLM(Protocol):
    """Anything that turns a chat request into a reply. Errors are `agent_runtime.core.errors`."""

    def complete(self, request: ChatRequest) -> ChatResponse: ...


_PIECE = re.compile(r"\S+\s*|\s+")


def play(response: ChatResponse, sink: DeltaSink, words: int = 3) -> None:
    """Stream a reply made whole (the offline and scripted models) in pieces of a few words,
    as a provider would: the text, then each tool call with its arguments in two halves."""
    pieces = _PIECE.findall(response.content)
    for start in range(0, len(pieces), words):
        sink(Delta("text", "".join(pieces[start : start + words])))
    for index, call in enumerate(response.tool_calls):
        half = len(call.arguments) // 2
        sink(Delta("tool_call", call.arguments[:half], index, call.id, call.name))
        if call.arguments[half:]:
            sink(Delta("tool_call", call.arguments[half:], index))
