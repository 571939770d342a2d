"""MCP servers: a tenant's servers, whose tools become custom tools (attached like any other)
that remember the server and their name there.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mcp_server",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("transport", sa.String, nullable=False),
        sa.Column("url", sa.String, nullable=True),
        sa.Column("command", sa.JSON, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("skipped", sa.JSON, nullable=False),
        sa.Column("refreshed_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_mcp_server_tenant_id", "mcp_server", ["tenant_id"])
    op.create_index("ux_mcp_server_tenant_name", "mcp_server", ["tenant_id", "name"], unique=True)
    # Plain ADD COLUMN: batch mode would rebuild custom_tool on SQLite.
    op.add_column("custom_tool", sa.Column("mcp_server_id", sa.String, nullable=True))
    op.add_column("custom_tool", sa.Column("remote_name", sa.String, nullable=True))
    op.create_index("ix_custom_tool_mcp_server_id", "custom_tool", ["mcp_server_id"])


def downgrade() -> None:
    op.drop_index("ix_custom_tool_mcp_server_id", "custom_tool")
    op.drop_column("custom_tool", "remote_name")
    op.drop_column("custom_tool", "mcp_server_id")
    op.drop_table("mcp_server")
