"""Model calls that survive a provider's passing failures: retried with exponential backoff and
jitter, honouring the provider's Retry-After, within a budget of attempts and seconds."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agent_runtime.core.errors import ProviderError
from agent_runtime.llm.base import LLM, ChatRequest, ChatResponse, Delta, DeltaSink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` calls, and no wait that would end past `budget_seconds` from the first."""

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
        retry = 0
        streamed = _Streamed(request.on_delta)
        if request.on_delta is not None:
            request = replace(request, on_delta=streamed)
        while True:
            try:
                if retry and streamed.any:
                    streamed.restart()
                return self.inner.complete(request)
            except ProviderError as exc:
                retry += 1
                if not exc.transient or retry >= self.policy.attempts:
                    raise
                wait = self.policy.delay(retry, exc, self.draw)
                if self.clock() - started + wait > self.policy.budget_seconds:
                    raise
                log.warning(
                    "model call failed (%s); retry %d of %d in %.2f s",
                    exc.code,
                    retry,
                    self.policy.attempts - 1,
                    wait,
                )
                self.sleep(wait)


@dataclass
class _Streamed:
    """Passes pieces on, remembering whether any went out (a retry must void them)."""

    sink: DeltaSink | None
    any: bool = False

    def __call__(self, delta: Delta) -> None:
        self.any = True
        if self.sink is not None:
            self.sink(delta)

    def restart(self) -> None:
        self.any = False
        if self.sink is not None:
            self.sink(Delta("restart"))
