"""The built-in `offline` model: a deterministic, rule-based stand-in so recalld runs with no key.

It is not a language model. It drives the memory tools the way a real model would, so the whole
memory system can be tried and tested offline:
- a fact the user states about themselves ("my name is…", "I like…") goes into the `human` block;
- a question is answered from the remembered facts in its context (automatic memory) or the
  `human` block if it can be, otherwise by searching archival and recall memory, answering from
  what the searches return;
- long pasted text goes to archival memory;
- in a job, it files the goal in archival memory, reports progress and completes the job;
- anything else gets a short acknowledgement.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent_runtime.core.words import STOP_WORDS, WORD
from agent_runtime.llm.base import ChatRequest, ChatResponse, ToolCall, play

OFFLINE = "offline"  # the model string agents name it by

LONG_TEXT = 600
FACT = re.compile(
    r"^(my name is|my [\w ]{1,30} (is|are)|i am|i'm|i live|i work|i like|i love|i hate|"
    r"i prefer|i have|i own|i was born|call me)\b",
    re.IGNORECASE,
)
QUESTION = re.compile(
    r"(\?\s*$)|^(what|who|when|where|why|how|which|do|does|did|is|are|can|could|have|has)\b",
    re.IGNORECASE,
)
BLOCK = re.compile(r"<human chars=\"[^\"]*\">\n(?:\([^\n]*\)\n)?(.*?)\n?</human>", re.DOTALL)


def _keywords(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if w.lower() not in STOP_WORDS} - {"name"} | (
        {"name"} if "name" in text.lower() else set()
    )


def _related(question: set[str], line: set[str]) -> bool:
    """Shared words, or words sharing their first four letters ("live" and "lives")."""
    return bool(question & line) or any(
        len(q) >= 4 and len(w) >= 4 and q[:4] == w[:4] for q in question for w in line
    )


def _from_facts(messages: list[dict[str, Any]], question: str) -> str:
    """The remembered facts (automatic memory's section of the context) the question is about."""
    section = next(
        (
            str(m.get("content"))
            for m in messages
            if m["role"] == "system" and "<remembered_facts>" in str(m.get("content"))
        ),
        "",
    )
    wanted = _keywords(question) - {"user"}
    lines = [line[2:].split(" [")[0] for line in section.splitlines() if line.startswith("- ")]
    return "; ".join(line for line in lines if _related(wanted, _keywords(line)))


class OfflineModel:
    def __init__(self) -> None:
        self._calls = 0

    def _call(self, name: str, arguments: dict[str, Any]) -> ToolCall:
        self._calls += 1
        return ToolCall(f"offline_{self._calls}", name, json.dumps(arguments))

    def complete(self, request: ChatRequest) -> ChatResponse:
        response = self._reply(request)
        if request.on_delta is not None:
            play(response, request.on_delta)
        return response

    def _reply(self, request: ChatRequest) -> ChatResponse:
        messages = request.messages
        if not request.tools:  # a summarisation request
            return ChatResponse(content=self._summarize(messages[-1]["content"]))
        last = messages[-1]
        in_job = any(t["function"]["name"] == "complete_job" for t in request.tools)
        if in_job:
            return self._job_step(messages)
        if last["role"] == "tool":
            return ChatResponse(content=self._answer(messages))
        text = str(last.get("content") or "").strip()
        if last["role"] != "user" or not text:
            return ChatResponse(content="Okay.")
        if len(text) > LONG_TEXT:
            return ChatResponse(
                content="That's long; I'll keep it in archival memory.",
                tool_calls=[self._call("archival_memory_insert", {"content": text})],
            )
        if QUESTION.search(text):
            remembered = _from_facts(messages, text)
            if remembered:
                return ChatResponse(content=f"From what I remember: {remembered}")
            known = self._from_core(messages[0]["content"], text)
            if known:
                return ChatResponse(content=f"From my core memory: {known}")
            return ChatResponse(
                tool_calls=[
                    self._call("archival_memory_search", {"query": text}),
                    self._call("conversation_search", {"query": text, "roles": ["user"]}),
                ]
            )
        if FACT.match(text):
            return ChatResponse(
                tool_calls=[self._call("core_memory_append", {"label": "human", "content": text})]
            )
        return ChatResponse(content="Noted. (offline model: I store facts and answer from memory.)")

    def _job_step(self, messages: list[dict[str, Any]]) -> ChatResponse:
        """File the goal, report progress, complete: three steps, whatever the goal."""
        last = messages[-1]
        if last["role"] != "tool":
            goal = str(last.get("content") or "").split("\n\n", 1)[-1].split("\n\n", 1)[0]
            return ChatResponse(
                tool_calls=[
                    self._call(
                        "archival_memory_insert", {"content": f"Job goal: {goal}", "tags": ["job"]}
                    )
                ]
            )
        if last.get("name") == "archival_memory_insert":
            return ChatResponse(
                tool_calls=[
                    self._call("report_progress", {"note": "goal filed in archival memory"})
                ]
            )
        return ChatResponse(
            tool_calls=[
                self._call(
                    "complete_job",
                    {
                        "result": "offline model: the goal is filed in archival memory; "
                        "a real model would work on it"
                    },
                )
            ]
        )

    def _from_core(self, system: str, question: str) -> str:
        match = BLOCK.search(system)
        if not match:
            return ""
        wanted = _keywords(question)
        lines = [line for line in match.group(1).splitlines() if wanted & _keywords(line)]
        return " ".join(lines)

    def _answer(self, messages: list[dict[str, Any]]) -> str:
        results: list[str] = []
        for message in reversed(messages):
            if message["role"] != "tool":
                break
            content = str(message.get("content") or "")
            if content.startswith("Error:"):
                return f"I couldn't do that: {content[len('Error:') :].strip()}"
            if message.get("name") == "core_memory_append":
                return "Got it, I'll remember that."
            if message.get("name") == "archival_memory_insert":
                return "Saved to my archival memory."
            try:
                found = json.loads(content).get("results", [])
            except (ValueError, AttributeError):
                found = []
            results += [f"[{r['timestamp'][:10]}] {r['content']}" for r in found[:2]]
        if not results:
            return "I don't find anything about that in my memory."
        return "Here is what I remember: " + " | ".join(dict.fromkeys(results))

    def _summarize(self, prompt: str) -> str:
        previous = prompt.split("Previous summary:\n", 1)[-1].split("\n\nMessages leaving", 1)[0]
        lines = prompt.split("oldest first):\n", 1)[-1].splitlines()
        kept = [line[:160] for line in lines if "user:" in line][-6:]
        head = "" if previous.strip() == "(none)" else previous.strip()[-600:] + "\n"
        return head + "\n".join(kept) if (head or kept) else "(earlier small talk)"
