"""employee updates written cheaper: the level history keyed by employee and time,
and an index of erased employees

`analytics_employee_level` was keyed by a digest of employee and event time, with
an index on the employee beside it: three B-trees written at random for every
`employee.updated`. It is now keyed by (employee_id, occurred_at) itself, and on
SQLite the key is the table (WITHOUT ROWID): one B-tree. Rows carry over; two rows
of one employee at one instant (the same time written in two offsets, which the
digest told apart) become one, the higher level kept. The downgrade gives every
row its digest again, of the UTC time.

Which of a batch's employees were erased is asked of every `employee.updated`
batch; a partial index of the erased ones answers it without reading the table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:00:00.000000
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = 'analytics_employee_level'
COPY = 'analytics_employee_level_copy'


def _copy_rows() -> None:
    # A plain table, dropped below: a temporary one would be per connection on PostgreSQL.
    op.execute(f"CREATE TABLE {COPY} AS SELECT employee_id, occurred_at, "
               f"MAX(job_level) AS job_level FROM {TABLE} GROUP BY employee_id, occurred_at")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_employee_level_employee_id'))
    op.drop_table(TABLE)


ERASED = sa.text('erased_at IS NOT NULL')


def upgrade() -> None:
    op.create_index('ix_analytics_employee_erased', 'analytics_employee', ['id'],
                    postgresql_where=ERASED, sqlite_where=ERASED)
    _copy_rows()
    op.create_table(
        TABLE,
        sa.Column('employee_id', sa.String(length=64), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('job_level', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('employee_id', 'occurred_at'),
        sqlite_with_rowid=False,
    )
    op.execute(f"INSERT INTO {TABLE} (employee_id, occurred_at, job_level) "
               f"SELECT employee_id, occurred_at, job_level FROM {COPY}")
    op.drop_table(COPY)


def downgrade() -> None:
    op.drop_index('ix_analytics_employee_erased', table_name='analytics_employee')
    connection = op.get_bind()
    stored = sa.table(TABLE, sa.column('employee_id'),
                      sa.column('occurred_at', sa.DateTime(timezone=True)), sa.column('job_level'))
    rows = connection.execute(sa.select(stored)).all()
    op.drop_table(TABLE)
    table = op.create_table(
        TABLE,
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('employee_id', sa.String(length=64), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('job_level', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_employee_level_employee_id'),
                              ['employee_id'], unique=False)
    restored = []
    for employee_id, occurred_at, job_level in rows:
        at = (occurred_at.replace(tzinfo=UTC) if occurred_at.tzinfo is None
              else occurred_at.astimezone(UTC))
        key = hashlib.sha256(f"{employee_id}\x00{at.isoformat()}".encode()).hexdigest()
        restored.append({"id": key, "employee_id": employee_id, "occurred_at": at,
                         "job_level": job_level})
    if restored:
        op.bulk_insert(table, restored)
