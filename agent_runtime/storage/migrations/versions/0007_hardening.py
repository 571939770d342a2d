"""Hardening: live processes (leases of dead ones are taken over at once), the process that holds
an agent's lease, unique agent names per tenant, rows the indexer parks after repeated failures,
idempotency keys for sends, and the runs of a schedule found by their first run.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
NAME_LIMIT = 100


def upgrade() -> None:
    op.create_table(
        "process",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=False),
    )
    op.add_column("agent", sa.Column("lease_process", sa.String, nullable=True))
    _rename_duplicate_agents()
    op.create_index("ux_agent_tenant_name", "agent", ["tenant_id", "name"], unique=True)
    for table in ("passage", "message"):
        op.add_column(
            table, sa.Column("index_attempts", sa.Integer, nullable=False, server_default="0")
        )
        op.add_column(table, sa.Column("index_error", sa.Text, nullable=True))
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agent_id", sa.String, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("turn_id", sa.String, nullable=False),
        sa.Column("stop_reason", sa.String, nullable=True),
        sa.Column("steps", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ux_idempotency_agent_key", "idempotency_key", ["agent_id", "key"], unique=True)
    # Cancelling any run of a schedule finds the others by their first run.
    op.create_index("ix_job_schedule_root", "job", ["schedule_root"])


def _rename_duplicate_agents() -> None:
    """Names were not unique before: the second and later agents of a name, oldest first, get
    "-2", "-3", ... so that lookups by name stop picking one at random."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, tenant_id, name FROM agent ORDER BY created_at, id")
    ).fetchall()
    taken = {(tenant, name) for _id, tenant, name in rows}
    seen: set[tuple[str, str]] = set()
    for agent_id, tenant, name in rows:
        if (tenant, name) not in seen:
            seen.add((tenant, name))
            continue
        n = 2
        while (tenant, candidate := f"{name[: NAME_LIMIT - 8]}-{n}") in taken:
            n += 1
        taken.add((tenant, candidate))
        seen.add((tenant, candidate))
        conn.execute(
            sa.text("UPDATE agent SET name = :name WHERE id = :id"),
            {"name": candidate, "id": agent_id},
        )
