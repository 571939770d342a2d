"""Initial schema: agents, blocks, messages, passages, summaries, API keys, keyword indexes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TIMESTAMP = sa.DateTime(timezone=True)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False, index=True),
        sa.Column("key_hash", sa.String, nullable=False, unique=True),
        sa.Column("prefix", sa.String, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "agent",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False, index=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("model", sa.String, nullable=False),
        sa.Column("model_base_url", sa.String),
        sa.Column("context_window", sa.Integer, nullable=False),
        sa.Column("embedding", sa.String, nullable=False),
        sa.Column("instructions", sa.Text, nullable=False),
        sa.Column("max_steps", sa.Integer, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("system_prompt", sa.Text, nullable=False),
        sa.Column("system_prompt_tokens", sa.Integer, nullable=False),
        sa.Column("memory_edited_at", TIMESTAMP),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("passage_count", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String),
        sa.Column("lease_until", TIMESTAMP),
        sa.Column("last_stop_reason", sa.String),
    )
    op.create_table(
        "block",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("tenant_id", sa.String, nullable=False, index=True),
        sa.Column("label", sa.String, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("limit", sa.Integer, nullable=False),
        sa.Column("description", sa.String, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("owner_agent_id", sa.String),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "agent_block",
        sa.Column(
            "agent_id", sa.String, sa.ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "block_id", sa.String, sa.ForeignKey("block.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "message",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agent_id", sa.String, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("turn_id", sa.String, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("tool_calls", sa.JSON),
        sa.Column("tool_call_id", sa.String),
        sa.Column("name", sa.String),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("in_context", sa.Boolean, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("indexed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_message_agent_context", "message", ["agent_id", "in_context", "id"])
    op.create_index("ix_message_agent_created", "message", ["agent_id", "created_at"])
    op.create_index("ix_message_pending", "message", ["indexed", "agent_id"])
    op.create_table(
        "passage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agent_id", sa.String, sa.ForeignKey("agent.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("origin", sa.String, nullable=False),
        sa.Column("source_message_id", sa.Integer),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("indexed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_passage_agent_created", "passage", ["agent_id", "created_at"])
    op.create_index("ix_passage_pending", "passage", ["indexed", "agent_id"])
    op.create_table(
        "summary",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agent_id",
            sa.String,
            sa.ForeignKey("agent.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("evicted_through", sa.Integer, nullable=False),
        sa.Column("evicted_count", sa.Integer, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_keyword_indexes()
    else:
        _postgres_keyword_indexes()


def _sqlite_keyword_indexes() -> None:
    # External-content FTS5 tables kept in step by triggers: BM25 ranking with Porter stemming.
    for table, column in (("passage", "text"), ("message", "content")):
        op.execute(
            f"CREATE VIRTUAL TABLE {table}_fts USING fts5({column}, content='{table}', "
            f"content_rowid='id', tokenize='porter unicode61')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {table}_fts(rowid, {column}) VALUES (new.id, new.{column}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_ad AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {column}) "
            f"VALUES ('delete', old.id, old.{column}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_au AFTER UPDATE OF {column} ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {column}) "
            f"VALUES ('delete', old.id, old.{column}); "
            f"INSERT INTO {table}_fts(rowid, {column}) VALUES (new.id, new.{column}); END"
        )


def _postgres_keyword_indexes() -> None:
    for table, column in (("passage", "text"), ("message", "content")):
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN tsv tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('english', {column})) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_tsv ON {table} USING gin (tsv)")
