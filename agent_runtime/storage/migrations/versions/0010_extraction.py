"""Automatic memory: agents choose a memory mode (existing agents keep `tools`, what they did
before; new ones default to `auto`) and an extraction model; turns and ingested messages queue
for fact extraction.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("agent", sa.Column("memory", sa.String, nullable=False, server_default="tools"))
    op.add_column("agent", sa.Column("memory_model", sa.String, nullable=True))
    op.add_column("agent", sa.Column("memory_error", sa.Text, nullable=True))
    op.create_table(
        "extraction",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False),
        sa.Column(
            "agent_id", sa.String, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("user_id", sa.String, nullable=True),
        sa.Column("run_id", sa.String, nullable=True),
        sa.Column("messages", sa.JSON, nullable=False),
        sa.Column("model", sa.String, nullable=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("run_after", TIMESTAMP, nullable=False),
        sa.Column("lease_owner", sa.String, nullable=True),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("model_calls", sa.Integer, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_extraction_tenant_id", "extraction", ["tenant_id"])
    op.create_index("ix_extraction_claim", "extraction", ["status", "run_after"])
    op.create_index("ix_extraction_agent", "extraction", ["agent_id", "status"])
