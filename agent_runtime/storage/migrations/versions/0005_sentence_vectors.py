"""Rows are now indexed by sentence as well as whole (agent_runtime/parts.py): mark every row
for indexing again, so the indexer's start-up sweep adds the sentence vectors of existing rows.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("passage", "message"):
        op.execute(f"UPDATE {table} SET indexed = false WHERE indexed")
