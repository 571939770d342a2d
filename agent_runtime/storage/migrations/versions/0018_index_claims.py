"""Agents carry the claim of the process embedding their pending rows, so that replicas on one
database never embed the same rows twice.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

COLUMNS = ("index_owner", "index_until", "index_process")


def upgrade() -> None:
    # Plain ADD COLUMN: batch mode would rebuild the agent table on SQLite.
    op.add_column("agent", sa.Column("index_owner", sa.String, nullable=True))
    op.add_column("agent", sa.Column("index_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agent", sa.Column("index_process", sa.String, nullable=True))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("agent", name)
