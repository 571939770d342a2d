"""Model calls that survive a provider's passing failures: retried with exponential backoff and
jitter, honouring the provider's Retry-After, within a budget of attempts and seconds."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agent_runtime.core.errors import ProviderError
from agent_runtime.llm.base import LLM, Attempt, ChatRequest, ChatResponse, Pieces

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` calls, and no wait that would end past `budget_seconds` from the first
    (a request's own `retry_seconds`, an agent's budget, comes before it)."""

    attempts: int = 4
    budget_seconds: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, retry: int, error: ProviderError, draw: Callable[[], float]) -> float:
        """The wait before retry number `retry` (1-based): the provider's Retry-After when it
        gave one, else full jitter over an exponentially growing cap."""
        if error.retry_after is not None:
            return max(0.0, error.retry_after)
        cap = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return float(cap * draw())


@dataclass
class RetryingLLM:
    """An `LLM` that retries the transient errors of the one it wraps."""

    inner: LLM
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    draw: Callable[[], float] = random.random

    def complete(self, request: ChatRequest) -> ChatResponse:
        started = self.clock()
        budget = (
            self.policy.budget_seconds if request.retry_seconds is None else request.retry_seconds
        )
        retry = 0
        streamed = Pieces(request.on_delta)
        if request.on_delta is not None:
            request = replace(request, on_delta=streamed)
        report = request.on_attempt or (lambda _attempt: None)
        while True:
            if retry and streamed.any:
                streamed.restart()
            began = self.clock()
            try:
                response = self.inner.complete(request)
            except ProviderError as exc:
                retry += 1
                wait = self.policy.delay(retry, exc, self.draw)
                spent = self.clock() - began
                again = (
                    exc.transient
                    and retry < self.policy.attempts
                    and self.clock() - started + wait <= budget
                )
                report(Attempt(request.model, exc.code, spent, str(exc), wait if again else 0.0))
                if not again:
                    raise
                log.warning(
                    "model call failed (%s); retry %d of %d in %.2f s",
                    exc.code,
                    retry,
                    self.policy.attempts - 1,
                    wait,
                )
                self.sleep(wait)
            else:
                report(Attempt(request.model, "ok", self.clock() - began))
                return response
