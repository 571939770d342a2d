"""Fact memory: bitemporal facts with their history, searchable by keywords like passages; and
lifetimes: passages and facts may expire, and agents may set their episodic memory's lifetime.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fact",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String, nullable=False),
        sa.Column("user_id", sa.String, nullable=True),
        sa.Column("agent_id", sa.String, nullable=True),
        sa.Column("run_id", sa.String, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("subject", sa.String, nullable=False),
        sa.Column("subject_key", sa.String, nullable=False),
        sa.Column("attribute", sa.String, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("value_key", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("cardinality", sa.String, nullable=False),
        sa.Column("valid_at", TIMESTAMP, nullable=False),
        sa.Column("invalid_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("expired_at", TIMESTAMP, nullable=True),
        sa.Column("retired", sa.String, nullable=True),
        sa.Column("superseded_by", sa.Integer, nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("evidence_count", sa.Integer, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=True),
        sa.Column("indexed", sa.Boolean, nullable=False),
        sa.Column("index_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("index_error", sa.Text, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_fact_slot", "fact", ["tenant_id", "subject_key", "attribute"])
    op.create_index("ix_fact_tenant_id", "fact", ["tenant_id", "id"])
    op.create_index("ix_fact_pending", "fact", ["indexed", "tenant_id"])
    op.create_index("ix_fact_expires", "fact", ["expires_at"])
    op.create_table(
        "fact_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "fact_id", sa.Integer, sa.ForeignKey("fact.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_fact_event_fact", "fact_event", ["fact_id", "id"])
    op.add_column("passage", sa.Column("expires_at", TIMESTAMP, nullable=True))
    op.create_index("ix_passage_expires", "passage", ["expires_at"])
    op.add_column("agent", sa.Column("memory_ttl", sa.JSON, nullable=False, server_default="{}"))
    op.add_column(
        "agent",
        sa.Column("expired_passage_count", sa.Integer, nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE fact_fts USING fts5(text, content='fact', "
            "content_rowid='id', tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER fact_fts_ai AFTER INSERT ON fact BEGIN "
            "INSERT INTO fact_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER fact_fts_ad AFTER DELETE ON fact BEGIN "
            "INSERT INTO fact_fts(fact_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
        )
        op.execute(
            "CREATE TRIGGER fact_fts_au AFTER UPDATE OF text ON fact BEGIN "
            "INSERT INTO fact_fts(fact_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "INSERT INTO fact_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute("CREATE VIRTUAL TABLE fact_fts_vocab USING fts5vocab(fact_fts, row)")
    else:
        op.execute(
            "ALTER TABLE fact ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        op.execute("CREATE INDEX ix_fact_tsv ON fact USING gin (tsv)")
