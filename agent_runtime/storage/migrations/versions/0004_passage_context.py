"""Passages carry the turn before them as context, indexed for keywords at a lower weight.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("passage", sa.Column("context", sa.Text, nullable=False, server_default=""))
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER passage_fts_{trigger}")
        op.execute("DROP TABLE passage_fts_vocab")
        op.execute("DROP TABLE passage_fts")
        op.execute(
            "CREATE VIRTUAL TABLE passage_fts USING fts5(text, context, content='passage', "
            "content_rowid='id', tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER passage_fts_ai AFTER INSERT ON passage BEGIN "
            "INSERT INTO passage_fts(rowid, text, context) "
            "VALUES (new.id, new.text, new.context); END"
        )
        op.execute(
            "CREATE TRIGGER passage_fts_ad AFTER DELETE ON passage BEGIN "
            "INSERT INTO passage_fts(passage_fts, rowid, text, context) "
            "VALUES ('delete', old.id, old.text, old.context); END"
        )
        op.execute(
            "CREATE TRIGGER passage_fts_au AFTER UPDATE OF text, context ON passage BEGIN "
            "INSERT INTO passage_fts(passage_fts, rowid, text, context) "
            "VALUES ('delete', old.id, old.text, old.context); "
            "INSERT INTO passage_fts(rowid, text, context) "
            "VALUES (new.id, new.text, new.context); END"
        )
        op.execute("INSERT INTO passage_fts(passage_fts) VALUES ('rebuild')")
        op.execute("CREATE VIRTUAL TABLE passage_fts_vocab USING fts5vocab(passage_fts, row)")
    else:
        op.execute("DROP INDEX ix_passage_tsv")
        op.execute("ALTER TABLE passage DROP COLUMN tsv")
        op.execute(
            "ALTER TABLE passage ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', text), 'A') || "
            "setweight(to_tsvector('english', context), 'C')) STORED"
        )
        op.execute("CREATE INDEX ix_passage_tsv ON passage USING gin (tsv)")
