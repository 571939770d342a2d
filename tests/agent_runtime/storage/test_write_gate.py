"""The writers of one process queue on the engine's gate, not on SQLite's busy handler (which
sleeps between tries long after the lock is free), and a failed write frees the gate."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text

from agent_runtime.storage.database import make_engine, transaction


def _engine(path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{path / 'g.db'}", threads=16)

    def impatient(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA busy_timeout=1")  # SQLite's own waiting all but off

    event.listen(engine, "connect", impatient)
    with transaction(engine) as session:
        session.execute(text("CREATE TABLE tally (n INTEGER)"))
    return engine


def test_concurrent_writers_of_one_process_never_meet_a_locked_database(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    errors: list[BaseException] = []

    def write() -> None:
        for _ in range(15):
            try:
                with transaction(engine) as session:
                    session.execute(text("INSERT INTO tally VALUES (1)"))
                    time.sleep(0.002)  # hold the write lock a moment, as a step does
            except BaseException as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with transaction(engine) as session:
        assert session.execute(text("SELECT count(*) FROM tally")).scalar() == 8 * 15
    engine.dispose()


def test_a_failed_write_frees_the_gate_for_the_next_writer(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        session.execute(text("INSERT INTO tally VALUES (1)"))
        raise RuntimeError("the step failed")
    done = threading.Event()

    def write() -> None:
        with transaction(engine) as session:
            session.execute(text("INSERT INTO tally VALUES (2)"))
        done.set()

    threading.Thread(target=write).start()
    assert done.wait(5), "the next writer waited on a gate the failed one kept"
    with transaction(engine) as session:
        assert session.execute(text("SELECT sum(n) FROM tally")).scalar() == 2
    engine.dispose()
