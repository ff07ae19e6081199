"""occurred_at of mirrored rows

The column a mirrored programme or participant keeps to let the newest event
win was `updated_at`; it holds the `occurred_at` of the event that set the
row, and is named so, as in every service.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('scheduling_programme', 'scheduling_participant')


def _rename(old: str, new: str) -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(old, new_column_name=new,
                                  existing_type=sa.DateTime(timezone=True),
                                  existing_nullable=False)


def upgrade() -> None:
    _rename('updated_at', 'occurred_at')


def downgrade() -> None:
    _rename('occurred_at', 'updated_at')
