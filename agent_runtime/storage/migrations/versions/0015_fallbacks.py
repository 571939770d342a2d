"""Providers that fail gracefully: an agent's fallback models and retry budget; each assistant
message keeps the provider attempts of its step, and a turn's input is marked failed when no
model answered it.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: batch mode would rebuild `message` on SQLite and drop its FTS triggers.
    op.add_column(
        "agent", sa.Column("fallback_models", sa.JSON, nullable=False, server_default="[]")
    )
    op.add_column("agent", sa.Column("retry_seconds", sa.Float, nullable=True))
    op.add_column("message", sa.Column("attempts", sa.JSON, nullable=True))
    op.add_column(
        "message", sa.Column("failed", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("message", "failed")
    op.drop_column("message", "attempts")
    op.drop_column("agent", "retry_seconds")
    op.drop_column("agent", "fallback_models")
