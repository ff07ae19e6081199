"""programme blackout dates

A programme's holidays (`blackout_dates`, sorted ISO dates as JSON): scheduling plans
no session on them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('enrolment_programme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blackout_dates', sa.JSON(), nullable=False,
                                      server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('enrolment_programme', schema=None) as batch_op:
        batch_op.drop_column('blackout_dates')
