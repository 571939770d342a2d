"""Token counting, cached where text repeats: litellm's counter for a provider's model.

The offline model has no provider and no tokenizer of its own to match, so its tokens are
counted here (a word, a number or a run of marks is a token, a long word one more per six
letters past the first six: within 10% of litellm's count for OpenAI models on our prompts, tool
schemas and chat), and a server whose agents all use it never imports litellm: 2 s and about 190 MB
with its tokenizer (bench/startup.py).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from agent_runtime.llm.offline import OFFLINE

PER_MESSAGE = 4  # the role and the framing around each message, as OpenAI counts them
_PIECES = re.compile(r"\w+|[^\w\s]+")


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
    message = json.loads(message_json)
    if model == OFFLINE:
        return offline_message(message)
    from agent_runtime.llm.litellm_model import count_tokens

    return count_tokens(model, messages=[message])


@lru_cache(maxsize=256)
def _cached_text(model: str, text: str) -> int:
    if model == OFFLINE:
        return offline_text(text)
    from agent_runtime.llm.litellm_model import count_tokens

    return count_tokens(model, text=text)


def offline_text(text: str) -> int:
    return sum(1 + max(0, math.ceil((len(piece) - 6) / 6)) for piece in _PIECES.findall(text))


def offline_message(message: dict[str, Any]) -> int:
    """A message's content (text parts of a list too), name and tool calls, and its framing."""
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    pieces = [str(content or ""), str(message.get("name") or "")]
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        pieces += [str(function.get("name", "")), str(function.get("arguments", ""))]
    return PER_MESSAGE + sum(offline_text(piece) for piece in pieces)
