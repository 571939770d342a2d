"""Which `LLM` serves a model string: the offline model by its name, litellm (retried) for any
other, or one injected model (tests) for all; and the check that litellm can route a name."""

from __future__ import annotations

from collections.abc import Callable

from agent_runtime.core.settings import Settings
from agent_runtime.llm.base import LLM
from agent_runtime.llm.offline import OFFLINE
from agent_runtime.llm.retrying import RetryingLLM, RetryPolicy


def model_router(override: LLM | None, settings: Settings) -> Callable[[str], LLM]:
    if override is not None:
        return lambda _model: override
    from agent_runtime.llm.litellm_model import LiteLLMModel
    from agent_runtime.llm.offline import OfflineModel

    policy = RetryPolicy(settings.provider_attempts, settings.provider_retry_seconds)
    offline, remote = OfflineModel(), RetryingLLM(LiteLLMModel(), policy)
    return lambda model: offline if model == OFFLINE else remote


def route_check(override: LLM | None) -> Callable[[str], None]:
    """An injected model serves any string; otherwise litellm must know where to send it."""
    if override is not None:
        return lambda _model: None

    def check(model: str) -> None:
        if model != OFFLINE:
            from agent_runtime.llm.litellm_model import check_route

            check_route(model)

    return check
