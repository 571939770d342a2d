"""A turn run in the background and followed by a streamed response: the one way
/messages/stream and /chat/completions (stream) start a turn and read what it does.

The turn runs on its own, on the thread pool: a client that leaves does not stop it, and every
step is committed. The response only watches it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from starlette.concurrency import run_in_threadpool

from agent_runtime.llm import Delta
from agent_runtime.storage.tables import Message
from agent_runtime.turns.loop import EventSink, TurnResult
from server.api import Call
from server.errors import body_for

DeltaSink = Callable[[int, Delta], None]
# What a turn is run with: where its committed rows go, and its streamed pieces (None: the
# client did not ask for them, so the model is not streamed).
Run = Callable[[EventSink, DeltaSink | None], TurnResult]
Kind = Literal["delta", "message", "done", "error"]


def watch(call: Call, run: Run, where: str, *, deltas: bool) -> AsyncIterator[tuple[Kind, Any]]:
    """Start the turn and follow it: ("delta", (step, Delta)) for each streamed piece when
    `deltas`, ("message", row) for each committed row, then ("done", result) or ("error", the
    error's body); `where` names the turn in the log."""
    queue: asyncio.Queue[tuple[Kind, Any]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def put(item: tuple[Kind, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def message(_kind: str, row: Message) -> None:
        put(("message", row))

    def delta(step: int, piece: Delta) -> None:
        put(("delta", (step, piece)))

    def work() -> None:
        try:
            put(("done", run(message, delta if deltas else None)))
        except Exception as exc:
            put(("error", body_for(exc, where)[1]))

    background: set[asyncio.Future[None]] = call.request.app.state.background
    task = asyncio.ensure_future(run_in_threadpool(work))
    background.add(task)
    task.add_done_callback(background.discard)

    async def followed() -> AsyncIterator[tuple[Kind, Any]]:
        while True:
            item = await queue.get()
            yield item
            if item[0] in ("done", "error"):
                return

    return followed()
