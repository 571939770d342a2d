"""Messages carry the spoken message before them as context, indexed for keywords at a lower
weight, as passages do since 0004: a reply is found by the words of what it answers.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Spoken messages (user or assistant, with text), each beside the one before it of its agent.
_SPOKEN_PAIRS = (
    "SELECT id, LAG(content) OVER (PARTITION BY agent_id ORDER BY id) AS before FROM message "
    "WHERE role IN ('user', 'assistant') AND content != ''"
)


def upgrade() -> None:
    op.add_column("message", sa.Column("context", sa.Text, nullable=False, server_default=""))
    op.execute(
        f"UPDATE message SET context = pairs.before FROM ({_SPOKEN_PAIRS}) AS pairs "
        "WHERE message.id = pairs.id AND pairs.before IS NOT NULL"
    )
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER message_fts_{trigger}")
        op.execute("DROP TABLE message_fts_vocab")
        op.execute("DROP TABLE message_fts")
        op.execute(
            "CREATE VIRTUAL TABLE message_fts USING fts5(content, context, content='message', "
            "content_rowid='id', tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER message_fts_ai AFTER INSERT ON message BEGIN "
            "INSERT INTO message_fts(rowid, content, context) "
            "VALUES (new.id, new.content, new.context); END"
        )
        op.execute(
            "CREATE TRIGGER message_fts_ad AFTER DELETE ON message BEGIN "
            "INSERT INTO message_fts(message_fts, rowid, content, context) "
            "VALUES ('delete', old.id, old.content, old.context); END"
        )
        op.execute(
            "CREATE TRIGGER message_fts_au AFTER UPDATE OF content, context ON message BEGIN "
            "INSERT INTO message_fts(message_fts, rowid, content, context) "
            "VALUES ('delete', old.id, old.content, old.context); "
            "INSERT INTO message_fts(rowid, content, context) "
            "VALUES (new.id, new.content, new.context); END"
        )
        op.execute("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")
        op.execute("CREATE VIRTUAL TABLE message_fts_vocab USING fts5vocab(message_fts, row)")
    else:
        op.execute("DROP INDEX ix_message_tsv")
        op.execute("ALTER TABLE message DROP COLUMN tsv")
        op.execute(
            "ALTER TABLE message ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', content), 'A') || "
            "setweight(to_tsvector('english', context), 'C')) STORED"
        )
        op.execute("CREATE INDEX ix_message_tsv ON message USING gin (tsv)")
