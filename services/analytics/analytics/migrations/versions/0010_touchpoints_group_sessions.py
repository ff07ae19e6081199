"""touchpoints and group sessions from scheduling

One row per touchpoint and per group session, counted in the programme summary.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'analytics_touchpoint',
        sa.Column('id', sa.String(64), nullable=False),
        sa.Column('pair_id', sa.String(64), nullable=False),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('analytics_touchpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_touchpoint_pair_id'), ['pair_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_analytics_touchpoint_programme_id'),
                              ['programme_id'], unique=False)
    op.create_table(
        'analytics_group_session',
        sa.Column('id', sa.String(64), nullable=False),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('yes', sa.Integer(), nullable=False),
        sa.Column('rsvp_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('analytics_group_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_group_session_programme_id'),
                              ['programme_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('analytics_group_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_group_session_programme_id'))
    op.drop_table('analytics_group_session')
    with op.batch_alter_table('analytics_touchpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_touchpoint_programme_id'))
        batch_op.drop_index(batch_op.f('ix_analytics_touchpoint_pair_id'))
    op.drop_table('analytics_touchpoint')
