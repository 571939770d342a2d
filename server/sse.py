"""Server-Sent Events: how a stream's events are framed, and how a stream ends when something
fails inside it (an `error` event, then a clean end; never a connection cut mid-response)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from server.errors import body_for


def event(kind: str, data: dict[str, Any], event_id: int | str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    # ASCII JSON: any text, even a lone surrogate a model produced, can be sent.
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"


def response(events: AsyncIterator[str], where: str) -> StreamingResponse:
    """Stream `events`; `where` names the stream in the log if it fails."""
    return StreamingResponse(
        _guarded(events, where),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


async def _guarded(events: AsyncIterator[str], where: str) -> AsyncIterator[str]:
    try:
        async for item in events:
            yield item
    except Exception as exc:
        _status, body = body_for(exc, where)
        yield event("error", body)
