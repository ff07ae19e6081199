"""programme blackout dates and goal templates

The mirrored programme keeps its holidays (`blackout_dates`) and goal templates
(`goal_templates`), both JSON lists from `programme.updated`; a goal keeps the
template it started from (`template_id`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scheduling_programme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blackout_dates', sa.JSON(), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('goal_templates', sa.JSON(), nullable=False,
                                      server_default='[]'))
    with op.batch_alter_table('scheduling_goal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_id', sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scheduling_goal', schema=None) as batch_op:
        batch_op.drop_column('template_id')
    with op.batch_alter_table('scheduling_programme', schema=None) as batch_op:
        batch_op.drop_column('goal_templates')
        batch_op.drop_column('blackout_dates')
