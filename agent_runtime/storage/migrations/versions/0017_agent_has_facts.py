"""Agents know whether any fact was written in their scope, so a turn of an agent with none
asks nothing about facts before its first model call.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: batch mode would rebuild the agent table on SQLite.
    op.add_column(
        "agent",
        sa.Column("has_facts", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.execute(
        "UPDATE agent SET has_facts = TRUE "
        "WHERE EXISTS (SELECT 1 FROM fact WHERE fact.agent_id = agent.id)"
    )


def downgrade() -> None:
    op.drop_column("agent", "has_facts")
