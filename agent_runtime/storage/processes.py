"""Live recalld processes, so that a lease held by a dead one is taken over at once.

Each `Runtime` registers one row and beats its heartbeat from a daemon thread. A process counts
as dead when its row is gone (it closed, or a restart on the same host found its pid gone or
reused) or when its heartbeat is older than `stale_seconds` (another host that died). A turn's
lease names its process, so a restarted server serves the agent at once instead of waiting out
the lease (about 5 minutes before).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select
from sqlmodel import Session, col, select

from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import Process, utcnow

log = logging.getLogger(__name__)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def own_start_time() -> datetime | None:
    """When this OS process started (Linux), to tell our pid from a dead process's reused one."""
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as boot:
            btime = next(int(line.split()[1]) for line in boot if line.startswith("btime"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    seconds = btime + ticks / os.sysconf("SC_CLK_TCK")
    return datetime.fromtimestamp(seconds).astimezone()


class Processes:
    def __init__(self, engine: Engine, heartbeat_seconds: float = 5.0) -> None:
        self.engine = engine
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_seconds = heartbeat_seconds * 6
        self.id = f"proc-{uuid.uuid4().hex[:16]}"
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Register this process, forget this host's dead ones, and start the heartbeat."""
        with transaction(self.engine) as session:
            self._reap(session)
            session.add(Process(id=self.id, host=self.host, pid=os.getpid()))
        self._thread = threading.Thread(target=self._beat, name="recalld-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the heartbeat and remove the row: leases this process still holds lapse now."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with transaction(self.engine) as session:
            session.exec(delete(Process).where(col(Process.id) == self.id))

    def live(self, now: datetime) -> Select:  # type: ignore[type-arg]
        """The ids of processes alive at `now`, as a subquery."""
        cutoff = now - timedelta(seconds=self.stale_seconds)
        return select(Process.id).where(col(Process.heartbeat_at) >= cutoff)

    def reap(self) -> None:
        """Forget this host's dead processes now (a lease of one is then free)."""
        with transaction(self.engine) as session:
            self._reap(session)

    def _reap(self, session: Session) -> None:
        started = own_start_time()
        dead = []
        for row in session.exec(select(Process).where(Process.host == self.host)):
            if row.pid != os.getpid():
                gone = not pid_alive(row.pid)
            else:  # our pid: a dead process's if it registered before we started
                registered = row.started_at.replace(tzinfo=row.started_at.tzinfo or UTC)
                gone = started is not None and registered < started
            if gone:
                dead.append(row.id)
        if dead:
            log.info("processes %s on this host are gone; their leases are free", dead)
            session.exec(delete(Process).where(col(Process.id).in_(dead)))

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                with transaction(self.engine) as session:
                    beat = session.exec(
                        update(Process)
                        .where(col(Process.id) == self.id)
                        .values(heartbeat_at=utcnow())
                    )
                    if beat.rowcount == 0:  # reaped while stalled: register again
                        session.add(Process(id=self.id, host=self.host, pid=os.getpid()))
            except Exception:  # a missed beat is retried at the next one
                log.exception("heartbeat of %s failed", self.id)
