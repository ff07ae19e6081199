"""tables prefixed with the service

Every table of the service is `scheduling_*`: `session` becomes
`scheduling_session` and `session_private_note` `scheduling_private_note`.
Rows, foreign keys and the unique constraint move with each table (PostgreSQL
follows the table; SQLite rewrites the references to a renamed table); the
indexes are recreated under the names the models give them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (old table, new table, indexed columns)
RENAMES = (
    ('session', 'scheduling_session', ('pair_id', 'programme_id')),
    ('session_private_note', 'scheduling_private_note', ('author_employee_id', 'session_id')),
)


def upgrade() -> None:
    for old, new, columns in RENAMES:
        op.rename_table(old, new)
        for column in columns:
            op.drop_index(f'ix_{old}_{column}', table_name=new)
            op.create_index(f'ix_{new}_{column}', new, [column], unique=False)


def downgrade() -> None:
    for old, new, columns in reversed(RENAMES):
        for column in columns:
            op.drop_index(f'ix_{new}_{column}', table_name=new)
            op.create_index(f'ix_{old}_{column}', new, [column], unique=False)
        op.rename_table(new, old)
