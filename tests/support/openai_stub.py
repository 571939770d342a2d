"""An OpenAI-compatible chat server on 127.0.0.1 for tests: scripted replies, recorded requests."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class OpenAIStub:
    def __init__(self, responder: Responder | None = None, delay: float = 0.0) -> None:
        """Replies come from the queue, else from `responder(body)`; each after `delay` s."""
        self.requests: list[dict[str, Any]] = []
        self.chunk_delay = 0.0  # between streamed chunks
        # (status, payload) or (status, payload, extra response headers such as Retry-After)
        self.replies: deque[tuple[Any, ...]] = deque()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # each streamed chunk goes out when written

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                headers: dict[str, str] = {}
                if stub.replies:
                    entry = stub.replies.popleft()
                    status, payload = entry[0], entry[1]
                    headers = entry[2] if len(entry) > 2 else {}
                elif responder is not None:
                    status, payload = responder(body)
                else:
                    status, payload = 200, stub.completion("(stub has no reply queued)")
                time.sleep(delay)
                if status == 200 and body.get("stream"):
                    self._stream(payload, bool(body.get("stream_options")))
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, payload: dict[str, Any], usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in stub.chunks(payload, usage):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(stub.chunk_delay)
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def completion(content: str | None, tool_calls: list[dict[str, Any]] | None = None) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "stub-model",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }

    @staticmethod
    def chunks(payload: dict[str, Any], usage: bool) -> list[dict[str, Any]]:
        """A completion as the chunks of a stream: the text a few words at a time, each tool
        call's arguments in two pieces, the finish reason, then the usage if it was asked for."""
        message = payload["choices"][0]["message"]
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        words = (message.get("content") or "").split(" ")
        for start in range(0, len(words), 3):
            tail = " " if start + 3 < len(words) else ""
            deltas.append({"content": " ".join(words[start : start + 3]) + tail})
        for index, call in enumerate(message.get("tool_calls") or []):
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            first = {"name": call["function"]["name"], "arguments": arguments[:half]}
            deltas.append(
                {
                    "tool_calls": [
                        {"index": index, "id": call["id"], "type": "function", "function": first}
                    ]
                }
            )
            deltas.append(
                {"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]}
            )
        head = {
            "id": payload["id"],
            "object": "chat.completion.chunk",
            "created": payload["created"],
            "model": payload["model"],
        }
        out = [
            head | {"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
        ]
        finish = payload["choices"][0]["finish_reason"]
        out.append(head | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if usage:
            out.append(head | {"choices": [], "usage": payload["usage"]})
        return out

    def reply(self, content: str | None = None, **calls: dict[str, Any]) -> None:
        tool_calls = [
            {
                "id": f"call_{len(self.replies)}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls.items())
        ]
        self.replies.append((200, self.completion(content, tool_calls or None)))

    def fail(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
        self.replies.append((status, error, headers or {}))
