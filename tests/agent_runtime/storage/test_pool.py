"""A SQLite file's connection pool is as wide as the threads that use it."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import text

from agent_runtime.storage.database import make_engine


def test_every_thread_gets_a_connection_without_waiting(tmp_path: Path) -> None:
    # SQLAlchemy's default (5 kept + 10 more) made the 16th request thread wait for another's
    # connection: in a burst of 500 turns, for up to 19 s
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}", threads=40)
    engine.pool._timeout = 1  # type: ignore[attr-defined]  # fail fast, not after 30 s
    with ExitStack() as held:
        connections = [held.enter_context(engine.connect()) for _ in range(40)]
        assert all(c.execute(text("SELECT 1")).scalar() == 1 for c in connections)
    engine.dispose()
