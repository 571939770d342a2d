from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from agent_runtime.core.errors import ContextOverflow, ContextTooSmall
from agent_runtime.core.settings import Settings
from agent_runtime.core.specs import AgentSpec, BlockSpec
from agent_runtime.embedding.fake import FakeEmbedder
from agent_runtime.llm import ChatRequest, ChatResponse
from agent_runtime.llm.scripted import ScriptedLLM, echo_summary
from agent_runtime.llm.tokens import TokenCounter
from agent_runtime.retrieval.vector_index import MemoryIndex
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Message, Passage, Summary

WINDOW = 2000


def small_agent(runtime: Runtime, window: int = WINDOW) -> str:
    spec = AgentSpec(name="p", context_window=window, blocks=[BlockSpec("human", "Ada")])
    return runtime.create_agent(spec).id


def request_tokens(request: ChatRequest) -> int:
    counter = TokenCounter()
    return sum(counter.message(request.model, m) for m in request.messages) + counter.tools(
        request.model, request.tools
    )


def test_old_turns_are_summarised_and_paged_to_archival(runtime: Runtime) -> None:
    llm = ScriptedLLM(fallback=echo_summary)
    runtime.services.llm_for = lambda _m: llm
    agent_id = small_agent(runtime)
    for i in range(30):
        runtime.send(agent_id, [f"fact number {i}: the locker code is {1000 + i}"])
    for request in llm.requests:
        assert request_tokens(request) <= WINDOW
    with Session(runtime.engine) as session:
        summaries = list(session.exec(select(Summary).where(Summary.agent_id == agent_id)))
        evicted = list(
            session.exec(
                select(Message)
                .where(Message.agent_id == agent_id, Message.in_context == False)  # noqa: E712
                .order_by(col(Message.id))  # PostgreSQL returns rows in no set order
            )
        )
        paged = list(session.exec(select(Passage).where(Passage.origin == "paged")))
    assert summaries, "paging never happened"
    assert not summaries[-1].truncated
    assert len(runtime.messages(agent_id, limit=500)) == 60  # recall keeps everything
    by_source = {p.source_message_id: p for p in paged}
    for message in evicted:
        passage = by_source[message.id]
        assert passage.created_at == message.created_at  # the turn's time, not the paging time
        assert message.content in passage.text
    second = by_source[evicted[1].id]
    assert second.prior == by_source[evicted[0].id].text  # the turn before, for keywords
    system = llm.requests[-1].messages[0]["content"]
    assert "Summary of earlier conversation" in system and summaries[-1].text in system
    summarise_requests = [r for r in llm.requests if not r.tools]
    assert "fact number 0" in summarise_requests[0].messages[0]["content"]
    # the second summary folds in the first (recursive)
    if len(summarise_requests) > 1:
        assert summaries[0].text in summarise_requests[1].messages[0]["content"]
    hits, _ = runtime.search_archival(agent_id, "locker code 1000")
    assert any("1000" in h.text for h in hits)


def test_a_failing_summariser_still_pages_with_a_notice(runtime: Runtime) -> None:
    def chat_or_fail(request: ChatRequest) -> ChatResponse:
        if not request.tools:
            raise ContextOverflow("summariser exploded")
        return ChatResponse(content="ok")

    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=chat_or_fail)
    agent_id = small_agent(runtime)
    for i in range(30):
        runtime.send(agent_id, [f"message {i} " + "words " * 20])
    with Session(runtime.engine) as session:
        summaries = list(session.exec(select(Summary).where(Summary.agent_id == agent_id)))
    assert summaries and all(s.truncated for s in summaries)
    assert "moved to archival memory" in summaries[-1].text
    assert runtime.context(agent_id).total <= WINDOW


def test_provider_overflow_forces_paging_and_one_retry(runtime: Runtime) -> None:
    llm = ScriptedLLM(fallback=echo_summary)
    runtime.services.llm_for = lambda _m: llm
    agent_id = small_agent(runtime, window=100_000)
    for i in range(6):
        runtime.send(agent_id, [f"turn {i}"])
    before = runtime.context(agent_id).in_context_messages
    llm.push(ContextOverflow("too long for the real window"))
    llm.push(echo_summary)  # the forced summary
    llm.reply("answered after paging")
    result = runtime.send(agent_id, ["one more"])
    assert result.messages[-1].content == "answered after paging"
    assert runtime.context(agent_id).in_context_messages < before + 2


def test_blocks_larger_than_the_window_give_a_clear_error(runtime: Runtime) -> None:
    spec = AgentSpec(
        name="tiny",
        context_window=300,
        blocks=[BlockSpec("human", "lorem ipsum " * 150, limit=5000)],
    )
    agent_id = runtime.create_agent(spec).id
    with pytest.raises(ContextTooSmall, match="raise context_window"):
        runtime.send(agent_id, ["hi"])
    assert [m.content for m in runtime.messages(agent_id)] == ["hi"]


def test_a_message_larger_than_the_window_is_refused_clearly(runtime: Runtime) -> None:
    agent_id = small_agent(runtime)
    with pytest.raises(ContextTooSmall, match="newest message"):
        runtime.send(agent_id, ["word " * 3000])


# -- properties over random conversations ------------------------------------------------------

turn_shapes = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=120),  # words in the user message
        st.lists(st.sampled_from(["search", "append", "insert", "bad"]), max_size=3),
        st.integers(min_value=0, max_value=60),  # words in the final answer
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(turns=turn_shapes, window=st.sampled_from([2500, 4000]))
def test_paging_invariants_hold_for_random_conversations(
    tmp_path_factory: pytest.TempPathFactory, turns: list, window: int
) -> None:
    home = tmp_path_factory.mktemp("prop")
    llm = ScriptedLLM(summarizer=echo_summary)
    runtime = Runtime(
        Settings(home=home),
        llm=llm,
        embedder_factory=lambda _n: FakeEmbedder(),
        index=MemoryIndex(),
    )
    try:
        agent_id = runtime.create_agent(
            AgentSpec(
                name="prop", context_window=window, blocks=[BlockSpec("human", "", limit=400)]
            )
        ).id
        for n, (words, calls, answer) in enumerate(turns):
            for kind in calls:
                args = {
                    "search": ("conversation_search", {"query": f"topic {n}"}),
                    "append": ("core_memory_append", {"label": "human", "content": f"fact {n}"}),
                    "insert": ("archival_memory_insert", {"content": f"note {n} " * 10}),
                    "bad": ("core_memory_append", "{broken"),
                }[kind]
                llm.push(ChatResponse(tool_calls=[llm.call(*args)]))
            llm.reply("answer " * answer)
            runtime.send(agent_id, [f"turn {n} " + "lorem " * words])
        for request in llm.requests:
            assert request_tokens(request) <= window
            seen_calls: set[str] = set()
            for message in request.messages:
                for call in message.get("tool_calls") or []:
                    seen_calls.add(call["id"])
                if message["role"] == "tool":
                    assert message["tool_call_id"] in seen_calls, "tool result without its call"
        with Session(runtime.engine) as session:
            rows = list(session.exec(select(Message).where(Message.agent_id == agent_id)))
            paged = {
                p.source_message_id
                for p in session.exec(select(Passage).where(Passage.origin == "paged"))
            }
        expected = sum(1 + len(calls) * 2 + 1 for _w, calls, _a in turns)
        assert len(rows) == expected  # every message ever written is in recall
        for row in rows:
            spoken = row.role in ("user", "assistant") and bool(row.content)
            if not row.in_context:  # what was said is in archival; tool traffic only in recall
                assert (row.id in paged) == spoken
        for row in rows:
            if not row.in_context and row.role == "user":
                hits, _ = runtime.search_archival(agent_id, row.content[:40], limit=50)
                assert any(h.text.endswith(row.content) for h in hits)
                break
    finally:
        runtime.close()


def test_tool_results_never_lose_their_call_when_paging(runtime: Runtime) -> None:
    llm = ScriptedLLM(summarizer=echo_summary)
    runtime.services.llm_for = lambda _m: llm
    agent_id = small_agent(runtime, window=2500)
    for i in range(12):
        llm.reply(conversation_search={"query": f"q{i}"}, archival_memory_search={"query": "x"})
        llm.reply("done " * 30)
        runtime.send(agent_id, [f"turn {i} " + "blah " * 40])
    for request in llm.requests:
        if not request.tools:
            continue
        first = request.messages[1] if len(request.messages) > 1 else None
        assert first is None or first["role"] != "tool"
        ids = {c["id"] for m in request.messages for c in (m.get("tool_calls") or [])}
        for m in request.messages:
            if m["role"] == "tool":
                assert m["tool_call_id"] in ids


def test_fixed_parts_above_the_target_do_not_make_every_step_page(runtime: Runtime) -> None:
    """A persona that fills most of a small window used to leave the target unreachable: each
    step paged (a summariser call with a real model) and evicted all but the newest turn."""
    llm = ScriptedLLM(summarizer=echo_summary)
    runtime.services.llm_for = lambda _m: llm
    persona = BlockSpec("persona", "I speak plainly. " * 60, limit=4000)
    agent_id = runtime.create_agent(
        AgentSpec(name="tight", context_window=2000, blocks=[persona])
    ).id
    breakdown = runtime.context(agent_id)
    assert breakdown.system + breakdown.blocks + breakdown.tools > 2000 * 0.5  # above the target
    turns = 24
    for i in range(turns):
        llm.reply(f"noted {i}")
        runtime.send(agent_id, [f"short message number {i}"])
    for request in llm.requests:
        assert request_tokens(request) <= 2000
    pages = [r for r in llm.requests if not r.tools]
    assert 0 < len(pages) <= turns // 3
    assert runtime.context(agent_id).in_context_messages > 2  # more than the newest turn kept


def test_tool_traffic_is_not_paged_to_archival(runtime: Runtime) -> None:
    llm = ScriptedLLM(summarizer=echo_summary)
    runtime.services.llm_for = lambda _m: llm
    agent_id = small_agent(runtime)
    for i in range(10):
        llm.reply(core_memory_append={"label": "human", "content": f"fact {i}"})
        llm.reply(f"I noted fact {i} " + "and more " * 20)
        runtime.send(agent_id, [f"remember fact {i} " + "please " * 30])
    with Session(runtime.engine) as session:
        paged = [p.text for p in session.exec(select(Passage).where(Passage.origin == "paged"))]
    assert paged, "paging never happened"
    assert all(t.startswith(("user: ", "assistant: ")) for t in paged)
    assert not any("core_memory_append" in t or "appended" in t for t in paged)
    hits, _ = runtime.search_recall(agent_id, "core_memory_append fact 0", roles=["tool"])
    assert hits  # tool results stay findable in recall


@pytest.mark.parametrize(
    ("ttl", "days"), [(None, 365.0), ({"paged": 30}, 30.0), ({"paged": None}, None)]
)
def test_paged_turns_live_as_long_as_the_agent_says(
    runtime: Runtime, ttl: dict[str, float | None] | None, days: float | None
) -> None:
    runtime.services.llm_for = lambda _m: ScriptedLLM(fallback=echo_summary)
    spec = AgentSpec(
        name="p", context_window=WINDOW, blocks=[BlockSpec("human", "Ada")], memory_ttl=ttl
    )
    agent_id = runtime.create_agent(spec).id
    for i in range(30):
        runtime.send(agent_id, [f"fact number {i}: the locker code is {1000 + i}"])
    with Session(runtime.engine) as session:
        paged = list(session.exec(select(Passage).where(Passage.agent_id == agent_id)))
    assert paged, "paging never happened"
    for passage in paged:
        if days is None:
            assert passage.expires_at is None
        else:
            assert passage.expires_at is not None
            lived = passage.expires_at.replace(tzinfo=None) - passage.created_at.replace(
                tzinfo=None
            )
            assert abs(lived.total_seconds() / 86400 - days) < 1
