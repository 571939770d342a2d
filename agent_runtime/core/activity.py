"""The turns running in this process, so that background work can give way to them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

GIVE_WAY_SECONDS = 2.0  # background work waits at most this long for the turns to finish
SHARE = 0.25  # and then, while turns still run, takes at most this share of the time
MAX_REST_SECONDS = 1.0
POLL_SECONDS = 0.02


class Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1

    def busy(self) -> bool:
        return self._running > 0


def give_way(busy: Callable[[], bool], until: float) -> None:
    """Wait while `busy()`, but not past `until` (a `time.monotonic()` instant): work that can
    wait (embedding, extraction) leaves the interpreter to the turns, which a user waits on,
    and still runs under a load that never stops."""
    while busy() and time.monotonic() < until:
        time.sleep(POLL_SECONDS)


def pace(busy: Callable[[], bool], spent: float) -> None:
    """After a piece of background work that took `spent` seconds, rest while turns run, so
    that the work keeps `SHARE` of the time under a load that never stops: embedded Chroma
    holds the interpreter for the whole of an upsert (about 8 ms)."""
    if busy():
        time.sleep(min(spent * (1 - SHARE) / SHARE, MAX_REST_SECONDS))
