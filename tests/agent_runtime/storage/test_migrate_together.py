"""Replicas starting together on a new PostgreSQL database: one migrates, the others wait and
find the schema done, none fails."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect

from agent_runtime.storage.database import make_engine, upgrade


def test_processes_migrating_one_new_database_at_once_all_succeed(
    database_url: str | None, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has one process per file: nothing to race")
    assert database_url is not None
    engines = [make_engine(database_url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def migrate(engine: object) -> None:
        start.wait()
        try:
            upgrade(engine)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        assert "agent" in inspect(engines[0]).get_table_names()
    finally:
        for engine in engines:
            engine.dispose()
