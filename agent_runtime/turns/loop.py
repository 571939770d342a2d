"""The agent loop: one turn is a run of steps; each step is one model call and its tool calls.

A step renders the context (paging first if it is too full), calls the model with the tools'
schemas, runs the tool calls, and commits the assistant message, the tool results, memory edits
and the lease renewal in one transaction. A crash leaves the agent before or after a step.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel import Session

from agent_runtime.core.errors import ContextOverflow, ContextTooSmall, ProviderError, RecalldError
from agent_runtime.core.specs import Fallback, Scope
from agent_runtime.core.vocabulary import MemoryMode, StopReason
from agent_runtime.embedding import Embedder
from agent_runtime.facts import context as facts_context
from agent_runtime.facts import extraction
from agent_runtime.facts.context import FactsSection
from agent_runtime.facts.store import FactMemory
from agent_runtime.llm import LLM, Attempt, ChatRequest, ChatResponse, Delta, ToolCall, Usage
from agent_runtime.memory import blocks as blocks_
from agent_runtime.memory import messages as messages_
from agent_runtime.memory import paging
from agent_runtime.memory import passages as passages_
from agent_runtime.memory import window as context_window
from agent_runtime.retrieval.search import Searcher
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Agent, Block, Message
from agent_runtime.turns import idempotency
from agent_runtime.turns.fallback import ModelChain
from agent_runtime.turns.leases import Lease
from agent_runtime.turns.services import Services
from agent_runtime.turns.tool_memory import AgentMemory
from memory_tools import ToolError, ToolRegistry

log = logging.getLogger(__name__)

END_TURN, MAX_STEPS = StopReason.END_TURN, StopReason.MAX_STEPS
ERROR, CANCELLED = StopReason.ERROR, StopReason.CANCELLED

EventSink = Callable[[str, Message], None]


class MemoryMaker(Protocol):
    """Makes the memory a step's tools get."""

    def __call__(
        self,
        session: Session,
        agent: Agent,
        searcher: Searcher,
        embedder: Embedder,
        turn_start: int | None,
        *,
        facts: FactMemory | None,
        user_id: str | None,
    ) -> AgentMemory: ...


TOOL_RESULT_SHARE = 0.2
CHARS_PER_TOKEN = 3  # conservative: most tokenizers average 3.5-4 characters per token


@dataclass
class TurnOptions:
    max_steps: int | None = None
    tools: ToolRegistry | None = None
    cancelled: Callable[[], bool] = lambda: False
    on_message: EventSink | None = None
    # The model's reply as it streams: (step, piece); summaries and memory upkeep never stream.
    on_delta: Callable[[int, Delta], None] | None = None
    # Extra work committed in each step's own transaction (jobs record their progress here).
    on_step: Callable[[Session, Agent, list[Message], Usage], None] | None = None
    # The memory the tools get in a step; jobs give one that also records their progress.
    memory: MemoryMaker = AgentMemory
    turn_id: str | None = None  # jobs use their id, so a job's messages are easy to find
    idempotency_key: str | None = None  # recorded with the inputs (idempotency.py)
    user_id: str | None = None  # whom the turn serves: its facts, and the facts it may see
    # An `auto` agent's turn queues its messages for fact extraction (jobs' steps do not).
    extract: bool = True


@dataclass
class TurnResult:
    turn_id: str
    messages: list[Message] = field(default_factory=list)
    stop_reason: str = END_TURN
    steps: int = 0
    usage: Usage = field(default_factory=Usage)
    first_id: int | None = None  # the first message this turn recorded
    facts: FactsSection | None = None  # the facts brought into this turn's context
    replayed: bool = False  # an idempotent retry: the stored turn, not a new one


class TurnRunner:
    def __init__(self, services: Services) -> None:
        self.s = services

    def run(
        self,
        agent_id: str,
        inputs: list[tuple[str, str]],
        options: TurnOptions,
        lease: Lease,
        facts: Future[FactsSection | None] | None = None,
    ) -> TurnResult:
        """Run a turn for an agent whose lease the caller holds; `facts` is the section
        `facts_section` started for it."""
        result = TurnResult(turn_id=options.turn_id or "turn-" + uuid.uuid4().hex)
        with Session(self.s.engine) as session:
            agent = session.get(Agent, agent_id)
            assert agent is not None
            max_steps = options.max_steps or agent.max_steps
        if inputs:
            result.messages += self._record_inputs(
                agent_id, result.turn_id, inputs, lease, options.idempotency_key
            )
            result.first_id = result.messages[0].id
            self._emit(options, result.messages)
        tools = options.tools or self.s.tools
        llm = self.s.llm_for(agent.model)
        chain = ModelChain(
            self.s.llm_for,
            self.s.endpoints.key_for,
            [Fallback(str(f["model"]), f.get("base_url")) for f in agent.fallback_models],
            agent.retry_seconds,
        )
        attempts: list[Attempt] = []
        if facts is not None:
            result.facts = facts.result()
        try:
            while True:
                if options.cancelled():
                    result.stop_reason = CANCELLED
                    break
                if result.steps >= max_steps:
                    result.stop_reason = MAX_STEPS
                    break
                last = result.steps + 1 >= max_steps
                attempts = []
                new, response = self._step(
                    agent_id, result, tools, (llm, chain, attempts), lease, options, last
                )
                result.messages += new
                result.steps += 1
                result.usage = result.usage + response.usage
                self._emit(options, new)
                if not response.tool_calls:
                    result.stop_reason = END_TURN
                    break
        except ProviderError:
            lease.stop_reason = ERROR
            if result.steps == 0 and result.first_id is not None:
                # No model answered: the input stays, marked, and is held once if sent again.
                with transaction(self.s.engine) as session:
                    inputs_ = [m.id for m in result.messages if m.id is not None]
                    messages_.mark_failed(session, inputs_, [a.to_json() for a in attempts])
            raise
        lease.stop_reason = result.stop_reason
        return result

    def facts_section(
        self, agent: Agent, inputs: list[tuple[str, str]], user_id: str | None
    ) -> Future[FactsSection | None] | None:
        """Start the facts section of an `auto` agent's turn. The search needs only the text,
        so it runs while the turn waits for its lease and commits its inputs: the query's
        embedding is then mostly off the reply path."""
        if agent.memory != MemoryMode.AUTO or not agent.has_facts or not inputs:
            return None
        newest = next((c for r, c in reversed(inputs) if r == "user"), "")
        return self.s.searcher.pool.submit(
            facts_context.build, self.s.facts, self.s.counter, agent, newest, user_id
        )

    def _emit(self, options: TurnOptions, rows: list[Message]) -> None:
        if options.on_message:
            for row in rows:
                options.on_message("message", row)

    def _record_inputs(
        self,
        agent_id: str,
        turn_id: str,
        inputs: list[tuple[str, str]],
        lease: Lease,
        idempotency_key: str | None,
    ) -> list[Message]:
        with transaction(self.s.engine) as session:
            agent = session.get(Agent, agent_id)
            assert agent is not None
            resent = messages_.resent(session, agent_id, inputs)
            if resent:
                # The input of a turn no model answered, sent again: this turn takes it over,
                # so the prompt holds it once.
                for row in resent:
                    row.turn_id, row.failed, row.attempts = turn_id, False, None
                    session.add(row)
                if idempotency_key is not None:
                    idempotency.record(session, agent_id, idempotency_key, turn_id)
                lease.fence(session)
                return resent
            rows = [
                Message(agent_id=agent_id, turn_id=turn_id, role=role, content=content)
                for role, content in inputs
            ]
            messages_.chain(rows, messages_.last_spoken(session, agent_id))
            for row in rows:
                row.tokens = self.s.counter.message(agent.model, messages_.to_openai(row))
                session.add(row)
            agent.message_count += len(rows)
            session.add(agent)
            if idempotency_key is not None:
                idempotency.record(session, agent_id, idempotency_key, turn_id)
            lease.fence(session)
        self.s.indexer.schedule(agent_id)
        return rows

    # -- one step -----------------------------------------------------------------------------

    def _step(
        self,
        agent_id: str,
        result: TurnResult,
        tools: ToolRegistry,
        models: tuple[LLM, ModelChain, list[Attempt]],
        lease: Lease,
        options: TurnOptions,
        last: bool,
    ) -> tuple[list[Message], ChatResponse]:
        """One model call and its tool calls, committed together. `models`: the model that
        pages (summarises), the chain that answers, and the list its attempts go to."""
        llm, chain, attempts = models
        schemas = tools.schemas()
        stream = (
            None if options.on_delta is None else functools.partial(options.on_delta, result.steps)
        )
        request = self._fit(agent_id, schemas, llm, lease, result.facts, force=False)
        try:
            response = chain.complete(dataclasses.replace(request, on_delta=stream), attempts)
        except ContextOverflow:
            log.warning(
                "provider reported a context overflow for %s; paging and retrying", agent_id
            )
            if stream is not None:
                stream(Delta("restart"))
            request = self._fit(agent_id, schemas, llm, lease, result.facts, force=True)
            response = chain.complete(dataclasses.replace(request, on_delta=stream), attempts)
        with transaction(self.s.engine) as session:
            agent = session.get(Agent, agent_id)
            assert agent is not None
            embedder = self.s.embedders.get(agent.embedding)
            memory = options.memory(
                session,
                agent,
                self.s.searcher,
                embedder,
                result.first_id,
                facts=self.s.facts,
                user_id=options.user_id,
            )
            calls = [
                ToolCall(
                    messages_.storable(c.id) or f"call_{uuid.uuid4().hex[:12]}",
                    messages_.storable(c.name),
                    messages_.storable(c.arguments),
                )
                for c in response.tool_calls
            ]
            assistant = Message(
                agent_id=agent_id,
                turn_id=result.turn_id,
                step=result.steps,
                role="assistant",
                content=messages_.storable(response.content),
                tool_calls=[c.to_openai() for c in calls] or None,
                attempts=[a.to_json() for a in attempts],
            )
            new = [assistant]
            for call in calls:
                new.append(
                    Message(
                        agent_id=agent_id,
                        turn_id=result.turn_id,
                        step=result.steps,
                        role="tool",
                        tool_call_id=call.id,
                        name=call.name,
                        content=messages_.storable(
                            self._run_tool(tools, memory, call, agent.context_window)
                        ),
                    )
                )
            messages_.chain(new, messages_.last_spoken_in(request.messages))
            for row in new:
                row.tokens = self.s.counter.message(agent.model, messages_.to_openai(row))
                session.add(row)
            agent.message_count += len(new)
            for block_id in sorted(memory.changed_blocks):
                block = session.get(Block, block_id)
                if block is not None:
                    blocks_.record(
                        session, block, "agent", agent_id=agent_id, turn_id=result.turn_id
                    )
            for passage in memory.inserted:
                passages_.audit(session, passage, "inserted", "agent", turn_id=result.turn_id)
            if memory.changed:
                self._refresh_prompts(session, agent, memory.changed_blocks)
            session.add(agent)
            # A turn ending here frees its lease in this commit, one transaction fewer; with an
            # idempotency key the runtime records the outcome under the lease first.
            finished = not response.tool_calls and options.idempotency_key is None
            lease.fence(session, release=END_TURN if finished else None)
            if options.on_step:
                options.on_step(session, agent, new, response.usage)
            ends = not response.tool_calls or last
            if ends and options.extract and agent.memory == MemoryMode.AUTO:
                self._queue_extraction(session, agent, [*result.messages, *new], options)
        if finished:
            lease.released(END_TURN)
        self.s.indexer.schedule(agent_id)
        return new, response

    def _queue_extraction(
        self, session: Session, agent: Agent, rows: list[Message], options: TurnOptions
    ) -> None:
        """The turn's spoken messages, queued in the step's own transaction: a turn that
        commits has its extraction request, and one that rolls back has none."""
        spoken = [
            {
                "role": m.role,
                "content": m.content,
                "created_at": m.created_at.isoformat(),
                "message_id": m.id,
            }
            for m in rows
            if m.role in ("user", "assistant") and m.content
        ]
        if spoken:
            scope = Scope(user_id=options.user_id, agent_id=agent.id)
            extraction.enqueue(session, agent.tenant_id, spoken, scope)

    def _run_tool(
        self, tools: ToolRegistry, memory: AgentMemory, call: ToolCall, window: int
    ) -> str:
        try:
            output = tools.run(memory, call.name, call.arguments)
        except ToolError as exc:
            return f"Error: {exc}"
        except RecalldError as exc:
            log.warning("tool %s failed: %s", call.name, exc.message)
            return f"Error: {exc.message}"
        # A tool result may not crowd out the conversation: about a fifth of the window at most.
        cap = max(int(window * TOOL_RESULT_SHARE * CHARS_PER_TOKEN), 200)
        if len(output) > cap:
            cut = len(output) - cap
            output = output[:cap] + f"\n[... {cut} more characters cut; narrow the request]"
        return output

    def _refresh_prompts(self, session: Session, agent: Agent, changed_blocks: set[str]) -> None:
        context_window.refresh_system(session, agent, self.s.counter)
        others = {a for b in changed_blocks for a in blocks_.agents_of(session, b)} - {agent.id}
        for other_id in sorted(others):
            other = session.get(Agent, other_id)
            if other is not None:
                context_window.refresh_system(session, other, self.s.counter)

    # -- paging -------------------------------------------------------------------------------

    def _fit(
        self,
        agent_id: str,
        schemas: list[dict[str, Any]],
        llm: LLM,
        lease: Lease,
        facts: FactsSection | None,
        force: bool,
    ) -> ChatRequest:
        """The request for the next model call, paging first until it fits the window."""
        settings = self.s.settings
        forced = force
        while True:
            with Session(self.s.engine) as session:
                agent = session.get(Agent, agent_id)
                assert agent is not None
                rows = messages_.in_context(session, agent_id)
                previous = paging.previous_summary(session, agent_id)
            tool_tokens = self.s.counter.tools(agent.model, schemas)
            facts_tokens = 0 if facts is None else facts.tokens
            total = context_window.prompt_tokens(agent, rows, tool_tokens) + facts_tokens
            window = agent.context_window
            fixed = agent.system_prompt_tokens + tool_tokens + facts_tokens
            # The trigger and target are shares of the room the messages have beside the fixed
            # parts: were they shares of the whole window, fixed parts above the target would
            # make every step page and evict all but the newest turn.
            room = max(window - fixed, 0)
            target = fixed + int(room * settings.page_target)
            if forced:
                need = max(total - target, total // 4, 1)
            elif total > fixed + room * settings.page_trigger:
                need = total - target
            else:
                return self._request(agent, rows, schemas, facts)
            evict = paging.choose_eviction(rows, need)
            if not evict:
                if total <= window:
                    return self._request(agent, rows, schemas, facts)
                if fixed >= window:
                    raise ContextTooSmall(
                        f"the system prompt, memory blocks and tool schemas take {fixed} tokens, "
                        f"more than the context window of {window}; raise context_window or "
                        "shorten the blocks"
                    )
                raise ContextTooSmall(
                    f"the newest message needs {total} tokens with the system prompt, more than "
                    f"the context window of {window}; send a shorter message or raise "
                    "context_window"
                )
            text, truncated = paging.summarize(
                llm,
                agent,
                previous,
                evict,
                settings.llm_timeout_seconds,
                self.s.endpoints.key_for(agent.model_base_url),
            )
            with transaction(self.s.engine) as session:
                fresh = session.get(Agent, agent_id)
                assert fresh is not None
                days = settings.lifetimes(fresh.memory_ttl)["paged"]
                plan = paging.Plan(evict, text, truncated, lifetime_days=days)
                paging.apply(session, fresh, plan, self.s.counter)
                lease.fence(session)
            self.s.indexer.schedule(agent_id)
            forced = False

    def _request(
        self,
        agent: Agent,
        rows: list[Message],
        schemas: list[dict[str, Any]],
        facts: FactsSection | None,
    ) -> ChatRequest:
        messages = context_window.request_messages(agent, rows)
        if facts is not None:
            # after the cached prefix (system prompt and history), before the newest question
            at = next(
                (i for i in range(len(messages) - 1, 0, -1) if messages[i]["role"] == "user"),
                len(messages),
            )
            messages.insert(at, {"role": "system", "content": facts.text})
        return ChatRequest(
            model=agent.model,
            messages=messages,
            tools=schemas,
            base_url=agent.model_base_url,
            api_key=self.s.endpoints.key_for(agent.model_base_url),
            timeout=self.s.settings.llm_timeout_seconds,
        )
