"""the workforce baseline HR enters, to compare participants' diversity against

`analytics_workforce_baseline` holds head counts of the workforce per diversity
attribute and value, as HR counted them on `as_of`: aggregates only, no person
behind a row. It starts empty.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'analytics_workforce_baseline',
        sa.Column('attribute', sa.String(length=100), nullable=False),
        sa.Column('value', sa.String(length=100), nullable=False),
        sa.Column('people', sa.Integer(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('attribute', 'value'),
    )


def downgrade() -> None:
    op.drop_table('analytics_workforce_baseline')
