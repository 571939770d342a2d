"""API keys: each belongs to a tenant; only a hash is stored, the key is shown once."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from agent_runtime.core.errors import InvalidInput
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import ApiKey

TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(engine: Engine, tenant_id: str) -> str:
    if not TENANT.match(tenant_id):
        raise InvalidInput("tenant must be 1-64 letters, digits, '.', '-' or '_'", field="tenant")
    key = "rk_" + secrets.token_urlsafe(32)
    with transaction(engine) as session:
        session.add(ApiKey(tenant_id=tenant_id, key_hash=_hash(key), prefix=key[:8]))
    return key


def tenant_for(engine: Engine, key: str) -> str | None:
    with Session(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == _hash(key))).first()
        return row.tenant_id if row else None


def any_configured(engine: Engine) -> bool:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(ApiKey)).one()) > 0


class KeyLookup:
    """Key → tenant for every request, from memory: a key's answer is kept `seconds` (so a
    request rarely waits on the database, and a key removed from it stops working within that
    time), for at most `size` keys; whether any key exists is asked on every call until one
    does (a key made by `recalld keys create` must take effect at once), then never again,
    since keys are only ever added."""

    def __init__(self, engine: Engine, seconds: float = 60.0, size: int = 1024) -> None:
        self.engine = engine
        self.seconds = seconds
        self.size = size
        self._tenants: dict[str, tuple[str | None, float]] = {}
        self._any = False
        self._lock = threading.Lock()

    def tenant(self, key: str) -> str | None:
        digest, now = _hash(key), time.monotonic()
        with self._lock:
            cached = self._tenants.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = tenant_for(self.engine, key)
        with self._lock:
            if len(self._tenants) >= self.size:
                self._tenants.pop(next(iter(self._tenants)))  # the oldest entry
            self._tenants[digest] = (found, now + self.seconds)
        return found

    def any(self) -> bool:
        if not self._any:
            self._any = any_configured(self.engine)
        return self._any
