"""Kept values (agent_runtime/core/kept.py): served for their uses, then read again."""

from __future__ import annotations

from agent_runtime.core.kept import Kept


def test_a_value_serves_its_uses_then_is_forgotten() -> None:
    kept: Kept[str] = Kept(uses=3)
    assert kept.use("s") == (False, None)
    kept.put("s", "centre")
    assert [kept.use("s") for _ in range(3)] == [(True, "centre")] * 3
    assert kept.use("s") == (False, None)  # spent: the caller reads it afresh
    kept.put("s", "again")
    assert kept.use("s") == (True, "again")
    kept.forget("s")
    assert kept.use("s") == (False, None)


def test_keys_are_kept_apart_and_bounded() -> None:
    kept: Kept[int] = Kept(uses=10, limit=2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.use("a") == (True, 1) and kept.use("b") == (True, 2)
    kept.put("b", 3)  # a key already kept takes no room
    assert kept.use("a") == (True, 1)
    kept.put("c", 4)  # past the limit every key is forgotten
    assert kept.use("a") == (False, None) and kept.use("c") == (True, 4)
