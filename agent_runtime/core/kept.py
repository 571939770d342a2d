"""Values a search keeps between calls for a number of uses, then reads again: a scope's centre,
the scopes whose keyword leaders fell short. Bounded and thread-safe."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Kept(Generic[V]):
    """A value per key, served for `uses` lookups after it was put, then forgotten so that the
    caller reads it afresh. At most `limit` keys; past it every key is forgotten at once."""

    def __init__(self, uses: int, limit: int = 10_000) -> None:
        self.uses = uses
        self.limit = limit
        self._kept: dict[Hashable, tuple[V, int]] = {}  # key -> (value, lookups since put)
        self._lock = threading.Lock()

    def use(self, key: Hashable) -> tuple[bool, V | None]:
        """(found, value), using up one of the value's uses; found is False when the key was
        never put, was forgotten, or its uses are spent."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return False, None
            value, used = kept
            if used >= self.uses:
                del self._kept[key]
                return False, None
            self._kept[key] = (value, used + 1)
            return True, value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            if len(self._kept) >= self.limit and key not in self._kept:
                self._kept.clear()
            self._kept[key] = (value, 0)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._kept.pop(key, None)
