"""Row ids of passages and messages are never reused: SQLite hands a deleted or rolled-back
newest id to the next row unless the table says AUTOINCREMENT, and anything keyed by row id
outside the table (vectors, a client's cursor) would then point at the wrong row. PostgreSQL's
sequences never reuse ids already.

The tables are rebuilt with their rows and ids as they are; their keyword triggers are made
again (the full-text indexes are keyed by id, so they stay valid).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = {"passage": ("text", "context"), "message": ("content", "context")}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, (body, context) in COLUMNS.items():
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        fts = f"{table}_fts"
        op.execute(
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts}(rowid, {body}, {context}) "
            f"VALUES (new.id, new.{body}, new.{context}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {body}, {context}) "
            f"VALUES ('delete', old.id, old.{body}, old.{context}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {body}, {context} ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {body}, {context}) "
            f"VALUES ('delete', old.id, old.{body}, old.{context}); "
            f"INSERT INTO {fts}(rowid, {body}, {context}) "
            f"VALUES (new.id, new.{body}, new.{context}); END"
        )
