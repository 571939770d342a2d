"""Engine creation and schema upgrades. The database is created and migrated on start."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from agent_runtime.core.errors import ConfigurationError

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE = "recalld_write"
MIGRATION_LOCK = 0x7265_6361_6C6C  # any constant key: "recall"


SQLITE_KEPT = 16  # connections a SQLite pool keeps open; more are opened while threads need them
# A SQLite file has one writer at a time. Its busy handler makes the others poll, sleeping 1, 2,
# 5, 10 ... 100 ms between tries, so a writer often sleeps long after the lock is free: in a burst
# of turns most of a step's time went there. The writers of one process queue on a lock instead
# and each starts the moment the last one commits; other processes still meet the busy handler.
GATE_SECONDS = 30.0  # as the busy timeout: past it, a writer goes on to SQLite's own waiting
_gates: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def make_engine(url: str, threads: int = 64) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout. A SQLite file's
    connections are cheap, so its pool lets each of `threads` (the request threads and the
    background ones) have one: SQLAlchemy's default 5 + 10 left a burst of 500 turns waiting up
    to 19 s for a connection. PostgreSQL's stay 10 + 20 (each is a server process)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        pool: dict[str, int] = {}
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": SQLITE_KEPT, "max_overflow": max(threads - SQLITE_KEPT, 0)}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is off; we issue BEGIN ourselves. A write
        # transaction takes the lock up front (IMMEDIATE) instead of failing half way through a
        # step; reads stay deferred so that they never queue behind writers (WAL).
        event.listen(engine, "begin", _sqlite_begin)
        _gates[engine] = threading.RLock()  # re-entrant: a nested write waits in SQLite, as before
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_conn.isolation_level = None  # let the "begin" listener own transactions
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest migration (or to `revision`, for upgrade tests)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Replicas starting together on a new database would each create the tables
                # (and all but one fail): one migrates while the others wait, then find it done.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise ConfigurationError(
            f"cannot open the database at {engine.url!r}: {exc.orig}. "
            "Check RECALLD_DATABASE_URL or RECALLD_HOME."
        ) from exc


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one write transaction: committed on success, rolled back on any error."""
    gate = _gates.get(engine)
    held = gate is not None and gate.acquire(timeout=GATE_SECONDS)
    try:
        with Session(engine, expire_on_commit=False) as session:
            session.connection(execution_options={WRITE: True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        if held:
            assert gate is not None
            gate.release()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
