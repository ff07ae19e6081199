"""pair flags from scheduling

The latest `pair.atrisk`, `pair.fitflagged` and `pair.closureproposed` of
each pair, counted in the programme summary.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('at_risk_at', 'fit_flagged_at', 'closure_proposed_at')


def upgrade() -> None:
    with op.batch_alter_table('analytics_pair', schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('analytics_pair', schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
