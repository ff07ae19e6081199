"""programme health in depth

Who a pair paired and its matching score (time to match, pairing fit); each
member's session log (rating, fit, topics); whether a participant's state
carried profile answers and diversity attributes; a programme's diversity
objective.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 20:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('analytics_pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mentor_participant_id', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('mentee_participant_id', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('score', sa.Float(), nullable=True))
    with op.batch_alter_table('analytics_participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profiled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('diversity', sa.JSON(), nullable=True))
    with op.batch_alter_table('analytics_programme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('diversity_objective', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        'analytics_session_log',
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('author_role', sa.String(length=16), nullable=False),
        sa.Column('pair_id', sa.String(length=64), nullable=False),
        sa.Column('programme_id', sa.String(length=64), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('fit', sa.String(length=8), nullable=True),
        sa.Column('topics', sa.JSON(), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('session_id', 'author_role'),
    )
    op.create_index('ix_analytics_session_log_pair_id', 'analytics_session_log', ['pair_id'])
    op.create_index('ix_analytics_session_log_programme_id', 'analytics_session_log',
                    ['programme_id'])


def downgrade() -> None:
    op.drop_index('ix_analytics_session_log_programme_id', table_name='analytics_session_log')
    op.drop_index('ix_analytics_session_log_pair_id', table_name='analytics_session_log')
    op.drop_table('analytics_session_log')
    with op.batch_alter_table('analytics_programme', schema=None) as batch_op:
        batch_op.drop_column('diversity_objective')
    with op.batch_alter_table('analytics_participant', schema=None) as batch_op:
        batch_op.drop_column('diversity')
        batch_op.drop_column('profiled')
    with op.batch_alter_table('analytics_pair', schema=None) as batch_op:
        batch_op.drop_column('score')
        batch_op.drop_column('mentee_participant_id')
        batch_op.drop_column('mentor_participant_id')
