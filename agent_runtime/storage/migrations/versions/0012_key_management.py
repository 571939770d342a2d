"""Keys managed through the API: each key has a name, a role (admin or member), the time it was
last used and the time it was revoked. Existing keys become admin keys named "key-<prefix>",
since until now every key could do everything its tenant could.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("name", sa.String, nullable=True))
        batch.add_column(sa.Column("role", sa.String, nullable=True))
        batch.add_column(sa.Column("last_used_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("revoked_at", TIMESTAMP, nullable=True))
    op.execute("UPDATE api_key SET name = 'key-' || prefix, role = 'admin'")
    with op.batch_alter_table("api_key") as batch:
        batch.alter_column("name", existing_type=sa.String, nullable=False)
        batch.alter_column("role", existing_type=sa.String, nullable=False)
