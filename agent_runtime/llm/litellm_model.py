"""The real model: every LLM call goes through litellm. The only module that imports litellm."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from agent_runtime.errors import (
    ContextOverflow,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)
from agent_runtime.llm.base import ChatRequest, ChatResponse, ToolCall, Usage


@cache
def _litellm() -> Any:
    # litellm takes seconds to import and fetches its cost map unless told not to: import lazily.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True
    return litellm


class LiteLLMModel:
    """Calls any litellm model string; keys come from the server's environment."""

    def complete(self, request: ChatRequest) -> ChatResponse:
        litellm = _litellm()
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "timeout": request.timeout,
            "num_retries": 0,
        }
        if request.tools:
            kwargs["tools"] = request.tools
        if request.base_url:
            kwargs["api_base"] = request.base_url
            if "/" not in request.model:
                kwargs["custom_llm_provider"] = "openai"
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:  # translated below; litellm raises many vendor types
            raise translate_error(exc) from exc
        message = response.choices[0].message
        calls = [
            ToolCall(id=c.id, name=c.function.name or "", arguments=c.function.arguments or "")
            for c in (message.tool_calls or [])
        ]
        usage = getattr(response, "usage", None)
        return ChatResponse(
            content=message.content or "",
            tool_calls=calls,
            usage=Usage(
                prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            ),
        )


def translate_error(exc: Exception) -> ProviderError:
    """Map a litellm exception onto our hierarchy."""
    litellm = _litellm()
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ContextOverflow(f"the model's context window was exceeded: {text}")
    if isinstance(exc, litellm.Timeout):
        return ProviderTimeout(f"the model provider timed out: {text}")
    if isinstance(exc, litellm.RateLimitError):
        return ProviderRateLimited(f"the model provider is rate limiting: {text}")
    if isinstance(exc, litellm.BadRequestError | litellm.NotFoundError):
        return ProviderBadRequest(f"the model provider rejected the request: {text}")
    return ProviderError(f"the model provider failed: {text}")


def count_tokens(model: str, messages: list[dict[str, Any]] | None = None, text: str = "") -> int:
    """Tokens as litellm counts them for `model` (its default tokenizer for unknown models)."""
    litellm = _litellm()
    if messages is not None:
        return int(litellm.token_counter(model=model, messages=messages))
    return int(litellm.token_counter(model=model, text=text))


def model_window(model: str) -> int | None:
    """The model's input window from litellm's (local) model map, if it knows the model."""
    try:
        info = _litellm().get_model_info(model)
    except Exception:
        return None
    return info.get("max_input_tokens") or info.get("max_tokens")


def embed_texts(model: str, texts: list[str]) -> list[list[float]]:
    """Embeddings for `texts` from a litellm embedding model."""
    try:
        response = _litellm().embedding(model=model, input=texts)
    except Exception as exc:
        raise translate_error(exc) from exc
    rows = sorted(response.data, key=lambda d: d["index"])
    return [row["embedding"] for row in rows]
