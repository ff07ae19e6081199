"""pulse surveys and pair milestones

Pulse surveys keep who answered (a keyed hash) and what was answered (a random id,
no identity, no time) in tables with no link between them; answer rows are stored
WITHOUT ROWID on SQLite so not even the hidden row number orders them by arrival.
Pair milestones record once per pair and milestone that `milestone.reached` was sent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('analytics_pulse_survey',
    sa.Column('id', sa.String(64), nullable=False),
    sa.Column('programme_id', sa.String(64), nullable=False),
    sa.Column('title', sa.String(200), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('analytics_pulse_survey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_pulse_survey_programme_id'),
                              ['programme_id'], unique=False)
    op.create_table('analytics_pulse_respondent',
    sa.Column('survey_id', sa.String(64), nullable=False),
    sa.Column('respondent_key', sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint('survey_id', 'respondent_key'),
    sqlite_with_rowid=False,
    )
    op.create_table('analytics_pulse_response',
    sa.Column('id', sa.String(32), nullable=False),
    sa.Column('survey_id', sa.String(64), nullable=False),
    sa.Column('role', sa.String(16), nullable=False),
    sa.Column('department', sa.String(200), nullable=False),
    sa.Column('level_band', sa.String(16), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('analytics_pulse_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_pulse_response_survey_id'),
                              ['survey_id'], unique=False)
    op.create_table('analytics_pair_milestone',
    sa.Column('pair_id', sa.String(64), nullable=False),
    sa.Column('milestone', sa.String(32), nullable=False),
    sa.Column('programme_id', sa.String(64), nullable=False),
    sa.Column('reached_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('pair_id', 'milestone')
    )
    with op.batch_alter_table('analytics_pair_milestone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_pair_milestone_programme_id'),
                              ['programme_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('analytics_pair_milestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_pair_milestone_programme_id'))
    op.drop_table('analytics_pair_milestone')
    with op.batch_alter_table('analytics_pulse_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_pulse_response_survey_id'))
    op.drop_table('analytics_pulse_response')
    op.drop_table('analytics_pulse_respondent')
    with op.batch_alter_table('analytics_pulse_survey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_pulse_survey_programme_id'))
    op.drop_table('analytics_pulse_survey')
