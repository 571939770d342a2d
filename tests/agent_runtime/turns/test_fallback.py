"""Fallback models, the attempts a step keeps, and the input of a turn no model answered."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from agent_runtime.core.errors import ContextOverflow, InvalidInput, ProviderError, ProviderTimeout
from agent_runtime.core.specs import AgentPatch, AgentSpec, Fallback
from agent_runtime.llm import Attempt, ChatRequest, ChatResponse
from agent_runtime.llm.retrying import RetryingLLM, RetryPolicy
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage.tables import Message
from agent_runtime.turns.fallback import ModelChain


@pytest.fixture
def models(runtime: Runtime) -> dict[str, ScriptedLLM]:
    """One scripted model per name, so a test can fail the agent's own and not its fallback."""
    by_name = {"main": ScriptedLLM(), "spare": ScriptedLLM(), "last": ScriptedLLM()}
    runtime.services.llm_for = lambda model: by_name[model]
    return by_name


def agent(runtime: Runtime, *fallbacks: str, **kw: object) -> str:
    spec = AgentSpec(
        name="f",
        model="main",
        fallback_models=[Fallback(m) for m in fallbacks],
        **kw,  # type: ignore[arg-type]
    )
    return runtime.create_agent(spec).id


def stored(runtime: Runtime, agent_id: str) -> list[Message]:
    with Session(runtime.engine) as session:
        query = select(Message).where(Message.agent_id == agent_id).order_by(Message.id)
        return list(session.exec(query).all())


def test_a_fallback_answers_when_the_agents_model_fails_for_good(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime, "spare", "last")
    models["main"].push(ProviderError("the provider is down"))
    models["spare"].reply("from the spare")
    result = runtime.send(agent_id, ["hi"])
    assert result.messages[-1].content == "from the spare"
    assert not models["last"].requests  # the chain stops at the first answer
    # The fallback saw the same conversation the agent's own model was sent.
    assert models["spare"].requests[0].messages == models["main"].requests[0].messages
    assert models["spare"].requests[0].model == "spare"
    reply = stored(runtime, agent_id)[-1]
    assert [(a["model"], a["outcome"]) for a in reply.attempts or []] == [
        ("main", "provider_error"),
        ("spare", "ok"),
    ]
    assert reply.attempts and "the provider is down" in reply.attempts[0]["error"]


def test_without_fallbacks_a_failure_is_the_agents_own(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime)
    models["main"].push(ProviderError("down"))
    with pytest.raises(ProviderError):
        runtime.send(agent_id, ["hi"])
    assert not models["spare"].requests


def test_a_context_overflow_pages_instead_of_falling_back(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime, "spare")
    for i in range(3):
        models["main"].reply(f"answer {i}")
        runtime.send(agent_id, [f"question {i}"])
    models["main"].push(ContextOverflow("too long"))
    models["main"].push(lambda _r: ChatResponse(content="a summary"))  # the pager's summary
    models["main"].reply("fits now")
    result = runtime.send(agent_id, ["question 3"])
    assert result.messages[-1].content == "fits now"
    assert not models["spare"].requests


def test_a_turn_no_model_answered_keeps_its_input_marked_with_the_attempts(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime, "spare")
    models["main"].push(ProviderTimeout("main timed out"))
    models["spare"].push(ProviderError("spare refused"))
    with pytest.raises(ProviderError, match="spare refused"):
        runtime.send(agent_id, ["hi"])
    (held,) = stored(runtime, agent_id)
    assert (held.role, held.content, held.failed) == ("user", "hi", True)
    assert [(a["model"], a["outcome"]) for a in held.attempts or []] == [
        ("main", "provider_timeout"),
        ("spare", "provider_error"),
    ]


def test_sending_a_failed_input_again_holds_it_once(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime)
    models["main"].push(ProviderError("down"))
    with pytest.raises(ProviderError):
        runtime.send(agent_id, ["hi"])
    models["main"].reply("back again")
    result = runtime.send(agent_id, ["hi"])
    assert [(m.role, m.content) for m in result.messages] == [
        ("user", "hi"),
        ("assistant", "back again"),
    ]
    prompt = models["main"].requests[-1].messages
    assert [m["content"] for m in prompt if m["role"] == "user"] == ["hi"]
    rows = stored(runtime, agent_id)
    assert [(m.role, m.failed, m.attempts) for m in rows[:1]] == [("user", False, None)]
    assert len(rows) == 2
    assert runtime.get_agent(agent_id).message_count == 2


def test_a_different_input_after_a_failure_keeps_the_failed_one_once(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime)
    models["main"].push(ProviderError("down"))
    with pytest.raises(ProviderError):
        runtime.send(agent_id, ["first"])
    models["main"].reply("answering both")
    runtime.send(agent_id, ["second"])
    prompt = models["main"].requests[-1].messages
    assert [m["content"] for m in prompt if m["role"] == "user"] == ["first", "second"]
    assert [(m.content, m.failed) for m in stored(runtime, agent_id)] == [
        ("first", True),
        ("second", False),
        ("answering both", False),
    ]


def test_a_failure_after_the_first_step_marks_nothing(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime)
    models["main"].reply(archival_memory_insert={"content": "a note"})
    models["main"].push(ProviderError("down"))
    with pytest.raises(ProviderError):
        runtime.send(agent_id, ["hi"])
    assert not any(m.failed for m in stored(runtime, agent_id))


class Flaky:
    """A provider that fails with a passing error `failures` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        if self.calls <= self.failures:
            raise ProviderTimeout("slow")
        return ChatResponse(content="ok")


def test_the_agents_retry_budget_bounds_each_models_retries() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, budget_seconds=60, base_delay=1.0, max_delay=1.0)
    main, spare = Flaky(failures=1), Flaky(failures=0)
    wrapped = {
        name: RetryingLLM(inner, policy, sleep=sleeps.append, draw=lambda: 1.0)
        for name, inner in [("main", main), ("spare", spare)]
    }
    request = ChatRequest(model="main", messages=[{"role": "user", "content": "hi"}])

    # With no budget of its own the server's applies: main is retried and answers.
    attempts: list[Attempt] = []
    chain = ModelChain(wrapped.__getitem__, lambda _u: None, [Fallback("spare")], None)
    assert chain.complete(request, attempts).content == "ok"
    assert [(a.model, a.outcome) for a in attempts] == [
        ("main", "provider_timeout"),
        ("main", "ok"),
    ]
    assert attempts[0].wait == sleeps[0] > 0

    # A budget of 0 retries nothing: main's first failure goes straight to the fallback.
    main.failures, main.calls, attempts = 1, 0, []
    chain = ModelChain(wrapped.__getitem__, lambda _u: None, [Fallback("spare")], 0)
    assert chain.complete(request, attempts).content == "ok"
    assert [(a.model, a.outcome, a.wait) for a in attempts] == [
        ("main", "provider_timeout", 0.0),
        ("spare", "ok", 0.0),
    ]
    assert len(sleeps) == 1


def test_fallbacks_are_checked_and_can_be_changed(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    with pytest.raises(InvalidInput, match="at most 3 fallback models"):
        agent(runtime, "a", "b", "c", "d")
    with pytest.raises(InvalidInput, match="retry_seconds"):
        agent(runtime, retry_seconds=-1.0)
    agent_id = agent(runtime, "spare", retry_seconds=5.0)
    saved = runtime.get_agent(agent_id)
    assert (saved.fallback_models, saved.retry_seconds) == (
        [{"model": "spare", "base_url": None}],
        5.0,
    )
    runtime.update_agent(agent_id, AgentPatch(fallback_models=[Fallback("last")]))
    assert runtime.get_agent(agent_id).fallback_models == [{"model": "last", "base_url": None}]
    models["main"].push(ProviderError("down"))
    models["last"].reply("the new fallback")
    assert runtime.send(agent_id, ["hi"]).messages[-1].content == "the new fallback"
    runtime.update_agent(agent_id, AgentPatch(fallback_models=[]))
    assert runtime.get_agent(agent_id).fallback_models == []


def test_a_turn_stays_with_the_model_that_answered_and_the_next_tries_its_own_again(
    runtime: Runtime, models: dict[str, ScriptedLLM]
) -> None:
    agent_id = agent(runtime, "spare")
    models["main"].push(ProviderError("down"))
    models["spare"].reply(archival_memory_insert={"content": "a note"})
    models["spare"].reply("noted")
    assert runtime.send(agent_id, ["remember this"]).steps == 2
    assert len(models["main"].requests) == 1  # the second step did not knock on it again
    models["main"].reply("I am back")
    assert runtime.send(agent_id, ["hello"]).messages[-1].content == "I am back"
