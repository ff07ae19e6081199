"""occurred_at

The time of the event that last set a row is `occurred_at` in every service
(it was `updated_at` here); only the name changes, the values stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('analytics_programme', 'analytics_employee', 'analytics_goal')


def _rename(old: str, new: str) -> None:
    for table in TABLES:
        # Batch mode: SQLite rebuilds the table, PostgreSQL renames in place.
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(old, new_column_name=new)


def upgrade() -> None:
    _rename('updated_at', 'occurred_at')


def downgrade() -> None:
    _rename('occurred_at', 'updated_at')
