"""retention: imported participation history and the job levels employee events carried

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'analytics_participation_history',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('employee_id', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('started_on', sa.Date(), nullable=False),
        sa.Column('ended_on', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('analytics_participation_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_participation_history_programme_id'),
                              ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_analytics_participation_history_employee_id'),
                              ['employee_id'], unique=False)
    op.create_table(
        'analytics_employee_level',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('employee_id', sa.String(length=64), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('job_level', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('analytics_employee_level', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_employee_level_employee_id'),
                              ['employee_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('analytics_employee_level', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_employee_level_employee_id'))
    op.drop_table('analytics_employee_level')
    with op.batch_alter_table('analytics_participation_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_participation_history_employee_id'))
        batch_op.drop_index(batch_op.f('ix_analytics_participation_history_programme_id'))
    op.drop_table('analytics_participation_history')
