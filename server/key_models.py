"""The request and response models of /v1/keys, as schemas.py and responses.py are for the rest
of the API. No response but the one answering a create carries the key itself."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agent_runtime.storage import keys
from agent_runtime.storage.tables import ApiKey
from server.responses import Out, Timestamp
from server.schemas import Body, Cursor, Params

KeyName = Annotated[str, Field(max_length=64, pattern=keys.NAME.pattern)]
Tenant = Annotated[str, Field(max_length=64, pattern=keys.TENANT.pattern)]
Role = Annotated[
    Literal["admin", "member"],
    Field(description="admin: also manages the tenant's keys; member: uses the API only"),
]


class KeyCreate(Body):
    role: Role
    name: KeyName | None = Field(None, description='default: "key-" and the key\'s prefix')
    tenant: Tenant | None = Field(
        None,
        description="the calling key's own tenant (the default): an admin key makes keys "
        "for its own tenant only",
    )


class KeyPath(Params):
    key_id: Cursor


class KeyOut(Out):
    id: int
    tenant: str
    name: str
    role: str
    prefix: str  # the key's first characters, to tell keys apart
    created_at: Timestamp
    last_used_at: Timestamp | None  # to within a minute or so
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyOut:
        assert row.id is not None
        return cls(
            id=row.id,
            tenant=row.tenant_id,
            name=row.name,
            role=row.role,
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="the key itself: shown in this answer only, never again")


class KeysOut(Out):
    data: list[KeyOut]
