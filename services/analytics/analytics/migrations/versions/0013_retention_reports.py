"""stored retention reports and the version of their inputs

`analytics_retention_report` keeps each retention report as computed (its JSON),
per programme (`''` for every programme together), window and as-of day, with the
inputs version it was computed from and a digest of the rules that computed it.
`analytics_retention_inputs` holds that version in one row, which every
transaction writing retention's inputs (employees, their level history,
participants, imported participations) moves on as it commits. The row starts at
0; no report is stored yet, so every report is computed afresh at first.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    inputs = op.create_table(
        'analytics_retention_inputs',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(inputs, [{'id': 1, 'version': 0}])
    op.create_table(
        'analytics_retention_report',
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('window_months', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('inputs_version', sa.BigInteger(), nullable=False),
        sa.Column('method', sa.String(length=64), nullable=False),
        sa.Column('report', sa.Text(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('programme_id', 'window_months', 'as_of'),
    )


def downgrade() -> None:
    op.drop_table('analytics_retention_report')
    op.drop_table('analytics_retention_inputs')
