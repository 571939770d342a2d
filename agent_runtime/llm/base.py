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
