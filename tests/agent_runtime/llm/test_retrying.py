"""RetryingLLM: which failures are tried again, how long it waits, and when it gives up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent_runtime.core.errors import (
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)
from agent_runtime.llm.base import ChatRequest, ChatResponse, Delta
from agent_runtime.llm.retrying import RetryingLLM, RetryPolicy

REQUEST = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])


class Flaky:
    """Raises the queued errors in order, then answers."""

    def __init__(self, *errors: ProviderError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return ChatResponse(content="ok")


class BreaksMidStream:
    """Streams half a reply and fails, then streams a whole one."""

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        assert request.on_delta is not None
        if self.calls == 1:
            request.on_delta(Delta("text", "Hal"))
            raise ProviderTimeout("the stream stalled")
        request.on_delta(Delta("text", "Whole"))
        return ChatResponse(content="Whole")


def test_a_retry_after_a_broken_stream_voids_the_pieces_sent() -> None:
    clock = Clock()
    pieces: list[Delta] = []
    llm = RetryingLLM(BreaksMidStream(), RetryPolicy(), sleep=clock.sleep, clock=lambda: clock.now)
    response = llm.complete(replace(REQUEST, on_delta=pieces.append))
    assert response.content == "Whole"
    assert [(d.kind, d.text) for d in pieces] == [
        ("text", "Hal"),
        ("restart", ""),
        ("text", "Whole"),
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def retrying(inner: Flaky, clock: Clock, **policy: float) -> RetryingLLM:
    return RetryingLLM(
        inner,
        RetryPolicy(**policy),  # type: ignore[arg-type]
        sleep=clock.sleep,
        clock=lambda: clock.now,
        draw=lambda: 1.0,  # the top of the jitter range, so waits are exact
    )


def test_transient_failures_are_retried_with_exponential_backoff() -> None:
    inner, clock = Flaky(ProviderTimeout("t"), ProviderError("5xx", transient=True)), Clock()
    assert retrying(inner, clock, base_delay=0.5).complete(REQUEST).content == "ok"
    assert inner.calls == 3
    assert clock.waits == [0.5, 1.0]


def test_the_providers_retry_after_is_honoured() -> None:
    inner, clock = Flaky(ProviderRateLimited("429", retry_after=7.0)), Clock()
    retrying(inner, clock).complete(REQUEST)
    assert clock.waits == [7.0]


def test_jitter_spreads_the_wait_below_the_cap() -> None:
    inner, clock = Flaky(ProviderTimeout("t")), Clock()
    llm = RetryingLLM(inner, RetryPolicy(base_delay=2.0), sleep=clock.sleep, draw=lambda: 0.25)
    llm.complete(REQUEST)
    assert clock.waits == [0.5]


@pytest.mark.parametrize(
    "error",
    [ProviderBadRequest("400"), ProviderError("401 bad key"), ProviderError("x", transient=False)],
)
def test_failures_that_would_fail_again_are_not_retried(error: ProviderError) -> None:
    inner, clock = Flaky(error), Clock()
    with pytest.raises(type(error)):
        retrying(inner, clock).complete(REQUEST)
    assert inner.calls == 1 and clock.waits == []


def test_it_gives_up_after_the_attempts_allowed() -> None:
    inner, clock = Flaky(*[ProviderTimeout(f"t{i}") for i in range(5)]), Clock()
    with pytest.raises(ProviderTimeout, match="t2"):
        retrying(inner, clock, attempts=3).complete(REQUEST)
    assert inner.calls == 3 and len(clock.waits) == 2


def test_it_never_waits_past_the_budget() -> None:
    inner, clock = Flaky(ProviderRateLimited("429", retry_after=30.0)), Clock()
    with pytest.raises(ProviderRateLimited):
        retrying(inner, clock, budget_seconds=10.0).complete(REQUEST)
    assert inner.calls == 1 and clock.waits == []


def test_max_delay_caps_the_backoff() -> None:
    errors = [ProviderTimeout("t") for _ in range(4)]
    inner, clock = Flaky(*errors), Clock()
    retrying(inner, clock, attempts=5, base_delay=1.0, max_delay=3.0).complete(REQUEST)
    assert clock.waits == [1.0, 2.0, 3.0, 3.0]
