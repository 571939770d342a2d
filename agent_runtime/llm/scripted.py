"""A scripted model for tests: plays back queued replies and records every request it saw."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from agent_runtime.core.errors import ProviderError
from agent_runtime.llm.base import ChatRequest, ChatResponse, ToolCall, play

Reply = ChatResponse | Exception | Callable[[ChatRequest], ChatResponse]


class ScriptedLLM:
    """Replies come from a queue; an empty queue uses `fallback`, or fails loudly without one."""

    def __init__(
        self,
        fallback: Callable[[ChatRequest], ChatResponse] | None = None,
        *,
        summarizer: Callable[[ChatRequest], ChatResponse] | None = None,
    ) -> None:
        """`summarizer`, if given, answers requests without tools (summaries) off the queue."""
        self.requests: list[ChatRequest] = []
        self._summarizer = summarizer
        self._queue: deque[Reply] = deque()
        self._fallback = fallback
        self._lock = threading.Lock()
        self._ids = 0

    def reply(self, content: str = "", **tool_calls: Any) -> ScriptedLLM:
        """Queue a reply; keyword arguments become tool calls (`name={args}`)."""
        calls = [self.call(name, args) for name, args in tool_calls.items()]
        return self.push(ChatResponse(content=content, tool_calls=calls))

    def call(self, name: str, arguments: dict[str, Any] | str) -> ToolCall:
        with self._lock:
            self._ids += 1
            call_id = f"call_{self._ids}"
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return ToolCall(id=call_id, name=name, arguments=raw)

    def push(self, *replies: Reply) -> ScriptedLLM:
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        return len(self._queue)

    def complete(self, request: ChatRequest) -> ChatResponse:
        response = self._reply(request)
        if request.on_delta is not None:
            play(response, request.on_delta)
        return response

    def _reply(self, request: ChatRequest) -> ChatResponse:
        with self._lock:
            self.requests.append(request)
            if self._summarizer is not None and not request.tools:
                item: Reply | None = self._summarizer
            else:
                item = self._queue.popleft() if self._queue else None
        if item is None:
            if self._fallback is None:
                raise ProviderError("the scripted model has no reply queued")
            return self._fallback(request)
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        return item


def echo_summary(request: ChatRequest) -> ChatResponse:
    """A fallback that answers summarisation requests with a short digest and chats with 'ok'."""
    system = request.messages[0]["content"] if request.messages else ""
    if not request.tools and "summar" in system.lower():
        body = request.messages[-1]["content"]
        return ChatResponse(content="Summary: " + body[:200].replace("\n", " "))
    return ChatResponse(content="ok")
