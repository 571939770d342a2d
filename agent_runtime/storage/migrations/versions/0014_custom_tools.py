"""Custom tools: a tenant's HTTP tools (names unique per tenant) and the agents they are
attached to.

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "custom_tool",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("url", sa.String, nullable=False),
        sa.Column("method", sa.String, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_custom_tool_tenant_id", "custom_tool", ["tenant_id"])
    op.create_index("ux_custom_tool_tenant_name", "custom_tool", ["tenant_id", "name"], unique=True)
    op.create_table(
        "agent_tool",
        sa.Column(
            "agent_id",
            sa.String,
            sa.ForeignKey("agent.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "tool_id",
            sa.String,
            sa.ForeignKey("custom_tool.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_tool")
    op.drop_table("custom_tool")
