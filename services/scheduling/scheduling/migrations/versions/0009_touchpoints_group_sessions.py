"""Touchpoints and programme-wide group sessions with RSVPs

A pair's short check-ins between sessions (`scheduling_touchpoint`), a programme's
gatherings (`scheduling_group_session`) and each participant's answer to one
(`scheduling_group_rsvp`).

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
    op.create_table(
        'scheduling_touchpoint',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('pair_id', sa.String(64), nullable=False),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('author_employee_id', sa.String(64), nullable=True),
        sa.Column('author_role', sa.String(length=16), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['pair_id'], ['scheduling_pair.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('scheduling_touchpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduling_touchpoint_pair_id'), ['pair_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_scheduling_touchpoint_programme_id'),
                              ['programme_id'], unique=False)

    op.create_table(
        'scheduling_group_session',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('duration_minutes', sa.Integer(), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=True),
        sa.Column('location', sa.String(200), nullable=True),
        sa.Column('link', sa.String(2000), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('cancel_reason', sa.String(200), nullable=True),
        sa.Column('created_by_employee_id', sa.String(64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('scheduling_group_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduling_group_session_programme_id'),
                              ['programme_id'], unique=False)

    op.create_table(
        'scheduling_group_rsvp',
        sa.Column('group_session_id', sa.String(36), nullable=False),
        sa.Column('employee_id', sa.String(64), nullable=False),
        sa.Column('response', sa.String(length=16), nullable=False),
        sa.Column('responded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['group_session_id'], ['scheduling_group_session.id']),
        sa.PrimaryKeyConstraint('group_session_id', 'employee_id'),
    )


def downgrade() -> None:
    op.drop_table('scheduling_group_rsvp')
    with op.batch_alter_table('scheduling_group_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduling_group_session_programme_id'))
    op.drop_table('scheduling_group_session')
    with op.batch_alter_table('scheduling_touchpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduling_touchpoint_programme_id'))
        batch_op.drop_index(batch_op.f('ix_scheduling_touchpoint_pair_id'))
    op.drop_table('scheduling_touchpoint')
