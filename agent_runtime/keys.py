"""API keys: each belongs to a tenant; only a hash is stored, the key is shown once."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from agent_runtime.errors import InvalidInput
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
