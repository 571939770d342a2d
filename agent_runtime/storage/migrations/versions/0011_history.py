"""Memory you can audit: every version of a core memory block (existing blocks get their
current value as version 1), and archival memory's inserts and deletes.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "block_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "block_id", sa.String, sa.ForeignKey("block.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("limit", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("agent_id", sa.String, nullable=True),
        sa.Column("turn_id", sa.String, nullable=True),
        sa.Column("restored_from", sa.Integer, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ux_block_version", "block_version", ["block_id", "version"], unique=True)
    op.execute(
        'INSERT INTO block_version (block_id, version, value, "limit", description, read_only, '
        "actor, created_at) SELECT id, 1, value, \"limit\", description, read_only, 'migration', "
        "updated_at FROM block"
    )
    op.create_table(
        "passage_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agent_id", sa.String, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("passage_id", sa.Integer, nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("turn_id", sa.String, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_passage_event_agent", "passage_event", ["agent_id", "id"])
