"""DDL of the kernel tables, called from each service's migrations.

Each version is frozen once released: a later change to these tables gets a
new function and a new migration in every service, never an edit of an old
function. v1 (first migration): outbox and inbox. v2: dead-lettered outbox rows.
v3: the CloudEvents subject of outbox rows (`ce_subject`), for erasure.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_kernel_tables_v1() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbox_event_published_at", "outbox_event", ["published_at"])
    op.create_index("ix_outbox_event_unpublished", "outbox_event", ["seq"],
                    postgresql_where=sa.text("published_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox_event",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_kernel_tables_v1() -> None:
    op.drop_table("inbox_event")
    op.drop_index("ix_outbox_event_unpublished", table_name="outbox_event")
    op.drop_index("ix_outbox_event_published_at", table_name="outbox_event")
    op.drop_table("outbox_event")


def dead_letter_outbox_rows_v2() -> None:
    """Outbox rows the relay cannot publish are set aside (`failed_at`), not retried forever."""
    op.drop_index("ix_outbox_event_unpublished", table_name="outbox_event")
    with op.batch_alter_table("outbox_event") as batch:
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_event_unsent", "outbox_event", ["seq"],
                    postgresql_where=sa.text("published_at IS NULL AND failed_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL AND failed_at IS NULL"))
    op.create_index("ix_outbox_event_failed", "outbox_event", ["seq"],
                    postgresql_where=sa.text("failed_at IS NOT NULL"),
                    sqlite_where=sa.text("failed_at IS NOT NULL"))


def undo_dead_letter_outbox_rows_v2() -> None:
    """Back to v1: dead-lettered rows become unsent again (the old relay retries them)."""
    op.drop_index("ix_outbox_event_failed", table_name="outbox_event")
    op.drop_index("ix_outbox_event_unsent", table_name="outbox_event")
    with op.batch_alter_table("outbox_event") as batch:
        batch.drop_column("failed_at")
    op.create_index("ix_outbox_event_unpublished", "outbox_event", ["seq"],
                    postgresql_where=sa.text("published_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL"))


def cloudevents_subject_column_v3() -> None:
    """Outbox rows keep their CloudEvents `subject` (`ce_subject`), indexed for erasure.

    Rows already published get theirs from their payload, so an erasure after
    the upgrade still forgets them; unsent rows are published and purged as before.
    """
    with op.batch_alter_table("outbox_event") as batch:
        batch.add_column(sa.Column("ce_subject", sa.String(200), nullable=True))
    op.create_index("ix_outbox_event_ce_subject", "outbox_event", ["ce_subject"])
    if op.get_bind().dialect.name == "postgresql":
        subject = "payload::json ->> 'subject'"
        valid = "payload LIKE '{%'"
    else:
        subject = "json_extract(payload, '$.subject')"
        valid = "json_valid(payload)"
    op.execute(f"UPDATE outbox_event SET ce_subject = substr({subject}, 1, 200) "
               f"WHERE published_at IS NOT NULL AND {valid}")


def undo_cloudevents_subject_column_v3() -> None:
    """Back to v2; the partial indexes are rebuilt around SQLite's table copy."""
    op.drop_index("ix_outbox_event_ce_subject", table_name="outbox_event")
    op.drop_index("ix_outbox_event_failed", table_name="outbox_event")
    op.drop_index("ix_outbox_event_unsent", table_name="outbox_event")
    with op.batch_alter_table("outbox_event") as batch:
        batch.drop_column("ce_subject")
    op.create_index("ix_outbox_event_unsent", "outbox_event", ["seq"],
                    postgresql_where=sa.text("published_at IS NULL AND failed_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL AND failed_at IS NULL"))
    op.create_index("ix_outbox_event_failed", "outbox_event", ["seq"],
                    postgresql_where=sa.text("failed_at IS NOT NULL"),
                    sqlite_where=sa.text("failed_at IS NOT NULL"))
