"""API keys: each belongs to a tenant and has a role; only a hash is stored, the key is shown once.

An `admin` key also manages its own tenant's keys (`server/routes/keys.py`); a `member` key only
uses the API. A key is revoked, never deleted: its row stays, so the list still shows it and
authentication stays on once any key has existed (revoking every key does not reopen the server
to loopback callers without a key).

`KeyLookup` answers every request from memory. A key revoked through it (the API) is refused at
once in this process; one revoked elsewhere (another server process, `recalld keys revoke
--local`) within its cache's lifetime, `seconds` (a minute)."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from agent_runtime.core.errors import InvalidInput, NotFound
from agent_runtime.storage.database import transaction
from agent_runtime.storage.tables import ApiKey, utcnow

log = logging.getLogger("recalld.keys")

TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
NAME = TENANT  # the same rule: short, and safe to print or put in a shell line
ROLES = ("admin", "member")
MIN_ADOPTED_CHARS = 32  # a key chosen by the operator (adopt) must be at least this long


@dataclass(frozen=True)
class Caller:
    """Whom a valid (not revoked) key belongs to, and what it may do."""

    key_id: int
    tenant_id: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class NewKey:
    """A key just made: its row, and the secret itself, which is never stored or shown again."""

    row: ApiKey
    secret: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _check(tenant_id: str, name: str | None, role: str) -> None:
    if not TENANT.match(tenant_id):
        raise InvalidInput("tenant must be 1-64 letters, digits, '.', '-' or '_'", field="tenant")
    if name is not None and not NAME.match(name):
        raise InvalidInput("name must be 1-64 letters, digits, '.', '-' or '_'", field="name")
    if role not in ROLES:
        raise InvalidInput("role must be admin or member", field="role")


def _add(session: Session, secret: str, tenant_id: str, name: str | None, role: str) -> ApiKey:
    prefix = secret[:8]
    row = ApiKey(
        tenant_id=tenant_id,
        key_hash=_hash(secret),
        prefix=prefix,
        name=name or f"key-{prefix}",
        role=role,
    )
    session.add(row)
    session.flush()
    return row


def issue(engine: Engine, tenant_id: str, name: str | None = None, role: str = "admin") -> NewKey:
    """A new key for `tenant_id`, named `name` (default "key-<prefix>")."""
    _check(tenant_id, name, role)
    secret = "rk_" + secrets.token_urlsafe(32)
    with transaction(engine) as session:
        row = _add(session, secret, tenant_id, name, role)
    return NewKey(row, secret)


def create(engine: Engine, tenant_id: str, name: str | None = None, role: str = "admin") -> str:
    """`issue`, the secret only."""
    return issue(engine, tenant_id, name, role).secret


def adopt(
    engine: Engine, secret: str, tenant_id: str, name: str = "bootstrap", role: str = "admin"
) -> bool:
    """Store a key the operator chose (the first admin key, from the environment at start),
    unless it is stored already; a revoked one stays revoked. True if it was added."""
    _check(tenant_id, name, role)
    if len(secret) < MIN_ADOPTED_CHARS or not secret.isascii() or not secret.isprintable():
        raise InvalidInput(
            f"a chosen API key must be at least {MIN_ADOPTED_CHARS} printable ASCII characters",
            field="key",
        )
    try:
        with transaction(engine) as session:
            if session.exec(select(ApiKey.id).where(ApiKey.key_hash == _hash(secret))).first():
                return False
            _add(session, secret, tenant_id, name, role)
    except IntegrityError:  # replicas starting together: another one stored it just now
        with Session(engine) as session:
            if session.exec(select(ApiKey.id).where(ApiKey.key_hash == _hash(secret))).first():
                return False
        raise
    return True


def find(engine: Engine, key: str) -> Caller | None:
    """Whom `key` belongs to; None if it is no key, or a revoked one."""
    with Session(engine) as session:
        row = session.exec(
            select(ApiKey).where(ApiKey.key_hash == _hash(key), col(ApiKey.revoked_at).is_(None))
        ).first()
        if row is None or row.id is None:
            return None
        return Caller(row.id, row.tenant_id, row.role)


def tenant_for(engine: Engine, key: str) -> str | None:
    caller = find(engine, key)
    return caller.tenant_id if caller else None


def any_configured(engine: Engine) -> bool:
    """Whether any key was ever made: revoked keys count, so auth never turns itself off."""
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(ApiKey)).one()) > 0


def listing(engine: Engine, tenant_id: str | None) -> list[ApiKey]:
    """A tenant's keys (every tenant's with None), revoked ones too, oldest first."""
    query = select(ApiKey).order_by(col(ApiKey.id))
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    with Session(engine) as session:
        return list(session.exec(query).all())


def revoke(engine: Engine, key_id: int, tenant_id: str | None) -> ApiKey:
    """Revoke a key of `tenant_id` (of any tenant with None); one revoked already stays as it
    was. Another tenant's key is not found, as if it did not exist."""
    with transaction(engine) as session:
        row = session.get(ApiKey, key_id)
        if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
            raise NotFound(f"no API key {key_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            session.add(row)
    return row


def _touch(engine: Engine, key_id: int, when: datetime) -> None:
    try:
        with transaction(engine) as session:
            session.exec(
                update(ApiKey)
                .where(
                    col(ApiKey.id) == key_id,
                    or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < when),
                )
                .values(last_used_at=when)
            )
    except Exception as exc:  # a lost "last used" time must never fail or stop anything
        log.warning("could not record when API key %s was last used: %s", key_id, exc)


class KeyLookup:
    """Key → caller for every request, from memory: a key's answer is kept `seconds` (so a
    request rarely waits on the database, and a key revoked elsewhere stops working within that
    time), for at most `size` keys. A key revoked through `revoke` is refused at once.

    When a key was last used is written at most once per `touch_seconds` per key, by a thread of
    its own, so no request waits on that write.

    Whether any key exists is asked on every call until one does (a key made by `recalld keys
    create --local` must take effect at once), then never again: keys are never deleted."""

    def __init__(
        self, engine: Engine, seconds: float = 60.0, size: int = 1024, touch_seconds: float = 60.0
    ) -> None:
        self.engine = engine
        self.seconds = seconds
        self.size = size
        self.touch_seconds = touch_seconds
        self._callers: dict[str, tuple[Caller | None, float]] = {}
        self._revoked: set[str] = set()  # digests revoked here: refused even mid-lookup
        self._touched: dict[int, float] = {}
        self._any = False
        self._closed = False
        self._lock = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recalld-key-use")

    def caller(self, key: str) -> Caller | None:
        digest, now = _hash(key), time.monotonic()
        with self._lock:
            cached = self._callers.get(digest)
        if cached is not None and cached[1] > now:
            found = cached[0]
        else:
            found = find(self.engine, key)
            with self._lock:
                if len(self._callers) >= self.size:
                    self._callers.pop(next(iter(self._callers)))  # the oldest entry
                self._callers[digest] = (found, now + self.seconds)
        with self._lock:
            if digest in self._revoked:  # a lookup that raced the revocation
                return None
        if found is not None:
            self._used(found.key_id, now)
        return found

    def tenant(self, key: str) -> str | None:
        found = self.caller(key)
        return found.tenant_id if found else None

    def revoke(self, key_id: int, tenant_id: str | None) -> ApiKey:
        """`revoke`, refused from now on by this lookup too."""
        row = revoke(self.engine, key_id, tenant_id)
        with self._lock:
            self._revoked.add(row.key_hash)
            self._callers.pop(row.key_hash, None)
        return row

    def any(self) -> bool:
        if not self._any:
            self._any = any_configured(self.engine)
        return self._any

    def settle(self) -> None:
        """Wait for the "last used" writes asked for so far (they run one at a time, in order)."""
        with self._lock:
            if self._closed:
                return
            done = self._writer.submit(lambda: None)
        done.result()

    def close(self) -> None:
        """Wait for the "last used" writes already asked for; record no more."""
        with self._lock:
            self._closed = True
        self._writer.shutdown(wait=True)

    def _used(self, key_id: int, now: float) -> None:
        with self._lock:
            last = self._touched.get(key_id)
            if self._closed or (last is not None and now - last < self.touch_seconds):
                return
            if len(self._touched) >= self.size:
                self._touched.pop(next(iter(self._touched)))
            self._touched[key_id] = now
            self._writer.submit(_touch, self.engine, key_id, utcnow())  # under the lock: not closed
