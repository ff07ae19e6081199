"""plans and feeds

Recurring plans (a plan per pair, its series), sessions as occurrences of a series,
participants' weekly availability, the programme's duration, and calendar feeds whose
secret is kept as its SHA-256 only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'scheduling_plan',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('pair_id', sa.String(length=64), nullable=False),
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('anchor_time_zone', sa.String(length=64), nullable=False),
        sa.Column('cadence', sa.String(length=16), nullable=False),
        sa.Column('duration_minutes', sa.Integer(), nullable=False),
        sa.Column('overlap', sa.Boolean(), nullable=False),
        sa.Column('nearest', sa.JSON(), nullable=False),
        sa.Column('proposed_by_employee_id', sa.String(length=64), nullable=True),
        sa.Column('accepted_by_employee_id', sa.String(length=64), nullable=True),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['pair_id'], ['scheduling_pair.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('pair_id'),
    )
    op.create_index('ix_scheduling_plan_programme_id', 'scheduling_plan', ['programme_id'])
    op.create_table(
        'scheduling_plan_series',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('plan_id', sa.String(length=36), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('local_start', sa.String(length=5), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('frequency', sa.String(length=16), nullable=False),
        sa.Column('interval', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('fits', sa.String(length=32), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['plan_id'], ['scheduling_plan.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_scheduling_plan_series_plan_id', 'scheduling_plan_series', ['plan_id'])
    op.create_table(
        'scheduling_calendar_feed',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('employee_id', sa.String(length=64), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_sha256'),
    )
    op.create_index('ix_scheduling_calendar_feed_employee_id', 'scheduling_calendar_feed',
                    ['employee_id'])
    with op.batch_alter_table('scheduling_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('series_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('occurrence_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('original_starts_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('conflict_side', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('alternative_starts_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_scheduling_session_plan_id', ['plan_id'])
        batch_op.create_index('ix_scheduling_session_series_id', ['series_id'])
    with op.batch_alter_table('scheduling_participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('availability', sa.JSON(), nullable=True))
    with op.batch_alter_table('scheduling_programme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duration_weeks', sa.Integer(), nullable=False,
                                      server_default='24'))


def downgrade() -> None:
    with op.batch_alter_table('scheduling_programme', schema=None) as batch_op:
        batch_op.drop_column('duration_weeks')
    with op.batch_alter_table('scheduling_participant', schema=None) as batch_op:
        batch_op.drop_column('availability')
    with op.batch_alter_table('scheduling_session', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduling_session_series_id')
        batch_op.drop_index('ix_scheduling_session_plan_id')
        for column in ('changed_at', 'sequence', 'cancel_reason', 'alternative_starts_at',
                       'conflict_side', 'original_starts_at', 'occurrence_index', 'series_id',
                       'plan_id'):
            batch_op.drop_column(column)
    op.drop_index('ix_scheduling_calendar_feed_employee_id', 'scheduling_calendar_feed')
    op.drop_table('scheduling_calendar_feed')
    op.drop_index('ix_scheduling_plan_series_plan_id', 'scheduling_plan_series')
    op.drop_table('scheduling_plan_series')
    op.drop_index('ix_scheduling_plan_programme_id', 'scheduling_plan')
    op.drop_table('scheduling_plan')
