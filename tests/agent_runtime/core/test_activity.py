"""Background work gives way to running turns: it waits for them (bounded), then rests after
each piece so that it keeps a quarter of the time; with no turn running it never waits."""

from __future__ import annotations

import threading

import pytest

from agent_runtime.core import activity
from agent_runtime.core.activity import SHARE, Activity, give_way, pace


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    naps: list[float] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(activity.time, "sleep", sleep)
    monkeypatch.setattr(activity.time, "monotonic", lambda: clock[0])
    return naps


def test_a_turn_counts_while_it_runs_even_when_it_fails() -> None:
    running = Activity()
    assert not running.busy()
    with running.turn(), running.turn():
        assert running.busy()
    with pytest.raises(RuntimeError), running.turn():
        raise RuntimeError("the model failed")
    assert not running.busy()


def test_nothing_waits_when_no_turn_runs(slept: list[float]) -> None:
    give_way(lambda: False, until=10.0)
    pace(lambda: False, spent=0.2)
    assert slept == []


def test_giving_way_ends_when_the_turns_do(slept: list[float]) -> None:
    left = [3]

    def busy() -> bool:
        left[0] -= 1
        return left[0] >= 0

    give_way(busy, until=10.0)
    assert len(slept) == 3


def test_giving_way_is_bounded_under_a_load_that_never_stops(slept: list[float]) -> None:
    give_way(lambda: True, until=2.0)
    assert 1.99 <= sum(slept) <= 2.0 + activity.POLL_SECONDS


def test_pacing_keeps_background_work_to_its_share_while_turns_run(slept: list[float]) -> None:
    pace(lambda: True, spent=0.01)
    assert slept == [pytest.approx(0.01 * (1 - SHARE) / SHARE)]
    pace(lambda: True, spent=30.0)
    assert slept[-1] == activity.MAX_REST_SECONDS


def test_turns_on_many_threads_are_counted_exactly() -> None:
    running = Activity()
    inside = threading.Barrier(9)
    out = threading.Event()

    def turn() -> None:
        with running.turn():
            inside.wait(10)
            out.wait(10)

    threads = [threading.Thread(target=turn) for _ in range(8)]
    for thread in threads:
        thread.start()
    inside.wait(10)
    assert running.busy()
    out.set()
    for thread in threads:
        thread.join(10)
    assert not running.busy()
