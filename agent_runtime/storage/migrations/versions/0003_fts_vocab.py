"""Term statistics over the SQLite keyword indexes, so queries can skip near-universal words.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in ("passage", "message"):
        op.execute(f"CREATE VIRTUAL TABLE {table}_fts_vocab USING fts5vocab({table}_fts, row)")
