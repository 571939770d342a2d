"""The real model: every LLM call goes through litellm. The only module that imports litellm."""

from __future__ import annotations

import os
import re
from functools import cache
from typing import Any

from agent_runtime.core.errors import (
    ContextOverflow,
    InvalidInput,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)
from agent_runtime.llm.base import ChatRequest, ChatResponse, Delta, DeltaSink, ToolCall, Usage


@cache
def _litellm() -> Any:
    # litellm takes seconds to import and fetches its cost map unless told not to: import lazily.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True
    return litellm


def load() -> None:
    """Import litellm now (at start-up), not in the first request that needs it."""
    _litellm()


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
        if request.api_key is not None:
            kwargs["api_key"] = request.api_key
        try:
            if request.on_delta is not None:
                return _streamed(litellm.completion(**kwargs, **STREAM), request.on_delta)
            response = litellm.completion(**kwargs)
        except ProviderError:
            raise
        except Exception as exc:  # translated below; litellm raises many vendor types
            raise translate_error(exc, request.model, request.base_url) from exc
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


STREAM = {"stream": True, "stream_options": {"include_usage": True}}


def _streamed(chunks: Any, sink: DeltaSink) -> ChatResponse:
    """Pass each piece of a streamed reply to `sink` as it comes, and put the reply together."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage = Usage()
    for chunk in chunks:
        counted = getattr(chunk, "usage", None)
        if counted is not None and getattr(counted, "prompt_tokens", None) is not None:
            usage = Usage(counted.prompt_tokens or 0, counted.completion_tokens or 0)
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
            sink(Delta("text", delta.content))
        for piece in getattr(delta, "tool_calls", None) or []:
            index = piece.index or 0
            call = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            fn = piece.function
            new_id = piece.id if piece.id and not call["id"] else ""
            new_name = (fn.name or "") if fn and fn.name and not call["name"] else ""
            arguments = (fn.arguments or "") if fn else ""
            call["id"] += new_id
            call["name"] += new_name
            call["arguments"] += arguments
            if new_id or new_name or arguments:
                sink(Delta("tool_call", arguments, index, new_id, new_name))
    return ChatResponse(
        content="".join(text),
        tool_calls=[ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())],
        usage=usage,
    )


def check_route(model: str) -> None:
    """Refuse, before any call, a model string litellm cannot send anywhere."""
    try:
        _litellm().get_llm_provider(model)
    except Exception as exc:
        raise InvalidInput(
            f"model {model!r} is not one litellm can route: name it as provider/model "
            "(e.g. openai/gpt-4o-mini, ollama/llama3.1) or give model_base_url for an "
            "OpenAI-compatible endpoint",
            field="model",
        ) from exc


# litellm's texts lead with exception class names ("litellm.InternalServerError:
# InternalServerError: OpenAIException - "): a user needs what happened and where.
_CLASS_NAMES = re.compile(r"^(?:(?:litellm\.)?\w+(?:Error|Exception)\s*[:-]\s*)+")


def _plain(exc: Exception) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return _CLASS_NAMES.sub("", text).strip() or type(exc).__name__


def translate_error(exc: Exception, model: str = "", base_url: str | None = None) -> ProviderError:
    """Map a litellm exception onto our hierarchy, naming the provider and where it was."""
    litellm = _litellm()
    provider = getattr(exc, "llm_provider", None) or (model.split("/", 1)[0] if model else "")
    where = base_url or "its default endpoint"
    text = f"{provider or 'provider'} at {where} (model {model}): {_plain(exc)}"
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ContextOverflow(f"the model's context window was exceeded: {text}")
    wait = _retry_after(exc)
    if isinstance(exc, litellm.Timeout):
        return ProviderTimeout(f"the model provider timed out: {text}", retry_after=wait)
    if isinstance(exc, litellm.RateLimitError):
        return ProviderRateLimited(f"the model provider is rate limiting: {text}", retry_after=wait)
    if isinstance(exc, litellm.BadRequestError | litellm.NotFoundError):
        return ProviderBadRequest(f"the model provider rejected the request: {text}")
    status = getattr(exc, "status_code", None)
    transient = isinstance(
        exc,
        litellm.InternalServerError | litellm.ServiceUnavailableError | litellm.APIConnectionError,
    ) or (isinstance(status, int) and status >= 500)
    return ProviderError(
        f"the model provider failed: {text}", transient=transient, retry_after=wait
    )


MAX_RETRY_AFTER_SECONDS = 300.0


def _retry_after(exc: Exception) -> float | None:
    """The seconds a provider's Retry-After header asks for (numeric form), if it sent one."""
    response = getattr(exc, "response", None)
    headers = getattr(exc, "headers", None) or getattr(response, "headers", None)
    if not headers:
        return None
    try:
        raw = headers.get("retry-after") or headers.get("Retry-After")
        seconds = float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    if seconds is None or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


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
    window = info.get("max_input_tokens") or info.get("max_tokens")
    return int(window) if window else None


def embed_texts(model: str, texts: list[str]) -> list[list[float]]:
    """Embeddings for `texts` from a litellm embedding model."""
    try:
        response = _litellm().embedding(model=model, input=texts)
    except Exception as exc:
        raise translate_error(exc) from exc
    rows = sorted(response.data, key=lambda d: d["index"])
    return [row["embedding"] for row in rows]
