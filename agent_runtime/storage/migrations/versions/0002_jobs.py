"""Jobs and their events.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False, index=True),
        sa.Column(
            "agent_id", sa.String, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("goal", sa.Text, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("stop_reason", sa.String),
        sa.Column("max_steps", sa.Integer, nullable=False),
        sa.Column("max_duration_seconds", sa.Float),
        sa.Column("schedule", sa.String),
        sa.Column("schedule_root", sa.String),
        sa.Column("run_after", TIMESTAMP, nullable=False),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("progress_note", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("lease_owner", sa.String),
        sa.Column("lease_until", TIMESTAMP),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_job_claim", "job", ["status", "run_after"])
    op.create_index("ix_job_agent", "job", ["agent_id", "status"])
    op.create_table(
        "job_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String, sa.ForeignKey("job.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_job_event_job", "job_event", ["job_id", "id"])
