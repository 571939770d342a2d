"""A step's model call: the agent's model, then its fallback models in order. Each model gets the
retries of the model it routes to (`llm.retrying`, within the agent's budget); a fallback is
tried only once a model has failed for good, and the turn's later steps start from the model
that answered (a chain lives for one turn). Every provider call lands in `attempts`, so the
step can keep them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from agent_runtime.core.errors import ContextOverflow, ProviderError
from agent_runtime.core.specs import Fallback
from agent_runtime.llm import LLM, Attempt, ChatRequest, ChatResponse
from agent_runtime.llm.base import Pieces

log = logging.getLogger(__name__)


@dataclass
class ModelChain:
    llm_for: Callable[[str], LLM]
    key_for: Callable[[str | None], str | None]  # a base URL's bound key (llm.endpoints)
    fallbacks: list[Fallback]
    retry_seconds: float | None = None  # None: the server's budget
    clock: Callable[[], float] = time.monotonic
    answering: int = 0  # the candidate that answered last; later steps start there

    def complete(self, request: ChatRequest, attempts: list[Attempt]) -> ChatResponse:
        """The first answer of the chain; the last model's error when every one failed. A
        context overflow is no provider's fault: it goes straight back to be paged."""
        candidates = [(request.model, request.base_url, request.api_key)] + [
            (f.model, f.base_url, self.key_for(f.base_url)) for f in self.fallbacks
        ]
        pieces = Pieces(request.on_delta)
        for number, (model, base_url, key) in enumerate(candidates):
            if number < self.answering:
                continue
            pieces.restart()  # a fallback answers from the start
            before, began = len(attempts), self.clock()
            call = replace(
                request,
                model=model,
                base_url=base_url,
                api_key=key,
                on_delta=None if request.on_delta is None else pieces,
                on_attempt=attempts.append,
                retry_seconds=self.retry_seconds,
            )
            try:
                response = self.llm_for(model).complete(call)
            except ContextOverflow:
                raise
            except ProviderError as exc:
                if len(attempts) == before:  # a model that does not report its own calls
                    attempts.append(Attempt(model, exc.code, self.clock() - began, str(exc)))
                if number == len(candidates) - 1:
                    raise
                log.warning(
                    "model %s failed (%s); falling back to %s",
                    model,
                    exc.code,
                    candidates[number + 1][0],
                )
                continue
            if len(attempts) == before:
                attempts.append(Attempt(model, "ok", self.clock() - began))
            self.answering = number
            return response
        raise AssertionError("unreachable: the chain has at least the agent's own model")
