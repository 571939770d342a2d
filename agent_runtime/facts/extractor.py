"""Extractors: a batch of messages in, facts out. `ModelExtractor` makes one model call per
batch (a `record_facts` tool call, with one repair attempt for malformed output); `RuleExtractor`
reads first-person statements by rules (the `offline` model). The fact store's rules then decide
what the facts change; an extractor only proposes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import prompts
from agent_runtime.core.errors import InvalidInput, LimitExceeded, MalformedOutput, RecalldError
from agent_runtime.core.specs import FactInput
from agent_runtime.facts import offline_rules, slots
from agent_runtime.llm import LLM, ChatRequest, ChatResponse, ToolCall
from agent_runtime.storage.tables import utcnow

MAX_FACTS = 200  # per batch
TRANSCRIPT_CHARS = 4000  # per message
VALUE_KINDS = ("fact", "preference", "event", "plan", "relationship")
RECORD_FACTS: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "record_facts",
        "description": "Record the facts the conversation states.",
        "parameters": {
            "type": "object",
            "properties": {
                "facts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "text": {"type": "string"},
                            "subject": {"type": "string"},
                            "attribute": {"type": "string"},
                            "value": {"type": "string"},
                            "kind": {"type": "string", "enum": list(VALUE_KINDS)},
                            "cardinality": {"type": "string", "enum": ["single", "many"]},
                            "valid_at": {"type": ["string", "null"]},
                            "negates": {"type": "boolean"},
                            "message": {"type": "integer"},
                        },
                        "required": ["text", "subject", "attribute", "value", "kind"],
                    },
                }
            },
            "required": ["facts"],
        },
    },
}


@dataclass
class Extracted:
    facts: list[FactInput] = field(default_factory=list)
    calls: int = 0  # model calls made


class Extractor(Protocol):
    def extract(
        self, messages: list[dict[str, Any]], known: list[str], evidence: list[str]
    ) -> Extracted:
        """`messages` [{role, content, created_at}], `known` slot lines for the prompt,
        `evidence[i]` what a fact from message i cites."""
        ...


class RuleExtractor:
    """The `offline` model: what users say of themselves, by rules (offline_rules.py)."""

    def extract(
        self, messages: list[dict[str, Any]], known: list[str], evidence: list[str]
    ) -> Extracted:
        out = Extracted()
        for i, message in enumerate(messages):
            if message.get("role") != "user":
                continue
            said = _time(message.get("created_at")) or utcnow()
            for fact in offline_rules.extract(str(message.get("content") or ""), said):
                out.facts.append(
                    replace(fact, valid_at=fact.valid_at or said, evidence=[evidence[i]])
                )
        return out


class ModelExtractor:
    def __init__(
        self,
        llm: LLM,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.llm = llm
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout

    def extract(
        self, messages: list[dict[str, Any]], known: list[str], evidence: list[str]
    ) -> Extracted:
        transcript = "\n".join(
            f"[{i}] {m.get('role')} ({str(m.get('created_at') or '')[:10] or 'undated'}): "
            f"{str(m.get('content') or '')[:TRANSCRIPT_CHARS]}"
            for i, m in enumerate(messages)
        )
        prompt = prompts.render(
            "extract_facts.j2", known=known, count=len(messages), transcript=transcript
        )
        chat: list[dict[str, Any]] = [
            {"role": "system", "content": prompt},
            {"role": "user", "content": "Record the facts of the conversation above."},
        ]
        response = self._call(chat)
        try:
            return Extracted(_parse(response, evidence, len(messages)), calls=1)
        except MalformedOutput as first:
            # One repair attempt: the model sees its answer and what was wrong with it.
            call = _record_call(response)
            if call is not None:
                chat += [
                    {
                        "role": "assistant",
                        "content": response.content or None,
                        "tool_calls": [call.to_openai()],
                    },
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "name": call.name,
                        "content": f"Error: {first.message}. Call record_facts again, valid.",
                    },
                ]
            else:
                chat += [
                    {"role": "assistant", "content": response.content},
                    {
                        "role": "user",
                        "content": f"That was not a record_facts call "
                        f"({first.message}). Call record_facts now.",
                    },
                ]
            repaired = self._call(chat)
            try:
                return Extracted(_parse(repaired, evidence, len(messages)), calls=2)
            except MalformedOutput as second:
                raise MalformedOutput(f"{second.message} (after one repair attempt)") from second

    def _call(self, chat: list[dict[str, Any]]) -> ChatResponse:
        return self.llm.complete(
            ChatRequest(
                model=self.model,
                messages=chat,
                tools=[RECORD_FACTS],
                base_url=self.base_url,
                api_key=self.api_key,
                timeout=self.timeout,
            )
        )


def _record_call(response: ChatResponse) -> ToolCall | None:
    return next((c for c in response.tool_calls if c.name == "record_facts"), None)


def _parse(response: ChatResponse, evidence: list[str], count: int) -> list[FactInput]:
    call = _record_call(response)
    raw = call.arguments if call is not None else response.content
    try:
        data = json.loads(raw or "")
    except json.JSONDecodeError as exc:
        raise MalformedOutput(f"the arguments are not JSON: {exc.msg}") from exc
    items = data.get("facts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MalformedOutput("record_facts needs a list under 'facts'")
    if len(items) > MAX_FACTS:
        raise MalformedOutput(f"at most {MAX_FACTS} facts per call")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedOutput(f"facts[{i}] is not an object")
        try:
            out.append(_fact(item, evidence, count))
        except (InvalidInput, LimitExceeded, TypeError, ValueError) as exc:
            message = exc.message if isinstance(exc, RecalldError) else str(exc)
            raise MalformedOutput(f"facts[{i}]: {message}") from exc
    return out


def _fact(item: dict[str, Any], evidence: list[str], count: int) -> FactInput:
    source = item.get("message")
    cites = [evidence[source]] if isinstance(source, int) and 0 <= source < count else []
    fact = FactInput(
        text=str(item.get("text") or ""),
        subject=str(item.get("subject") or ""),
        attribute=str(item.get("attribute") or ""),
        value=str(item.get("value") or ""),
        kind=str(item.get("kind") or "fact"),
        cardinality=item.get("cardinality") or None,
        negates=bool(item.get("negates", False)),
        valid_at=_time(item.get("valid_at")),
        evidence=cites,
    )
    if fact.attribute and not fact.value and not fact.negates:
        fact = replace(fact, attribute="")  # a statement without a slot value: keep its text
    slots.check(fact)
    return fact


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return slots.aware(value)
    try:
        return slots.aware(datetime.fromisoformat(str(value)))
    except ValueError as exc:
        raise ValueError(f"valid_at {str(value)[:40]!r} is not an ISO date") from exc
