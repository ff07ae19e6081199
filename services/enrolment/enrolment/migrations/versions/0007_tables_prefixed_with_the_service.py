"""tables prefixed with the service

Every table of the service is `enrolment_*`, as in every other service:
`employee`, `programme`, `participant`, `survey_response` and `invitation` get
the prefix. Rows, foreign keys (the manager's included) and unique constraints
move with each table (PostgreSQL follows the table; SQLite rewrites the
references to a renamed table); the indexes are recreated under the names the
models give them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (old table, indexed columns, unique); each table becomes `enrolment_<old>`.
RENAMES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ('employee', ('external_id', 'user_name'), True),
    ('programme', (), False),
    ('participant', ('employee_id', 'programme_id'), False),
    ('survey_response', ('participant_id',), False),
    ('invitation', ('employee_id', 'programme_id'), False),
)


def upgrade() -> None:
    for old, columns, unique in RENAMES:
        new = f'enrolment_{old}'
        op.rename_table(old, new)
        for column in columns:
            op.drop_index(f'ix_{old}_{column}', table_name=new)
            op.create_index(f'ix_{new}_{column}', new, [column], unique=unique)


def downgrade() -> None:
    for old, columns, unique in reversed(RENAMES):
        new = f'enrolment_{old}'
        for column in columns:
            op.drop_index(f'ix_{new}_{column}', table_name=new)
            op.create_index(f'ix_{old}_{column}', new, [column], unique=unique)
        op.rename_table(new, old)
