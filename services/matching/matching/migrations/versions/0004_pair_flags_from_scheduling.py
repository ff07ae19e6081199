"""pair flags from scheduling

A pair keeps when scheduling reported a poor fit twice (`pair.fitflagged`:
HR sees a rematch suggestion) and when it last flagged the pair at risk.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('matching_pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rematch_suggested_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('at_risk_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matching_pair', schema=None) as batch_op:
        batch_op.drop_column('at_risk_at')
        batch_op.drop_column('rematch_suggested_at')
