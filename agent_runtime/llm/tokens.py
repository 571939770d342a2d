"""Token counting with litellm's counter for the agent's model, cached where text repeats."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from agent_runtime.llm.litellm_model import count_tokens


class TokenCounter:
    def message(self, model: str, message: dict[str, Any]) -> int:
        return _cached(model, json.dumps(message, sort_keys=True))

    def text(self, model: str, text: str) -> int:
        return _cached(model, json.dumps({"role": "system", "content": text}))

    def tools(self, model: str, schemas: list[dict[str, Any]]) -> int:
        # Providers serialise tool schemas into the prompt; their JSON length is a fair measure.
        return _cached_text(model, json.dumps(schemas, sort_keys=True)) if schemas else 0


@lru_cache(maxsize=4096)
def _cached(model: str, message_json: str) -> int:
    return count_tokens(model, messages=[json.loads(message_json)])


@lru_cache(maxsize=256)
def _cached_text(model: str, text: str) -> int:
    return count_tokens(model, text=text)
