"""Session logs per member, SMART goals, inactivity flags

Each member of a pair logs their own part of a session (`scheduling_member_log`);
the shared recap gains key takeaways; the programme mirror keeps its topic
catalogue; pairs keep when their fit was flagged and which silence was
announced; goals and their dated progress get their tables. A session held
before this revision gets its logger's part back (attendance unknown is
counted as both present).

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
    with op.batch_alter_table('scheduling_programme', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topics', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('scheduling_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_takeaways', sa.JSON(), nullable=True))
    with op.batch_alter_table('scheduling_pair', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fit_flagged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('at_risk_silent_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closure_silent_since', sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        'scheduling_member_log',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('session_id', sa.String(36), nullable=False),
        sa.Column('pair_id', sa.String(64), nullable=False),
        sa.Column('author_employee_id', sa.String(64),
                  nullable=True),
        sa.Column('author_role', sa.String(length=16), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('duration_minutes', sa.Integer(), nullable=False),
        sa.Column('mentor_attended', sa.Boolean(), nullable=False),
        sa.Column('mentee_attended', sa.Boolean(), nullable=False),
        sa.Column('topics', sa.JSON(), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('fit', sa.String(length=16), nullable=True),
        sa.Column('logged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('correctable_until', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['scheduling_session.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('session_id', 'author_employee_id'),
    )
    with op.batch_alter_table('scheduling_member_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduling_member_log_session_id'),
                              ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduling_member_log_pair_id'),
                              ['pair_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduling_member_log_author_employee_id'),
                              ['author_employee_id'], unique=False)

    op.create_table(
        'scheduling_goal',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('pair_id', sa.String(64), nullable=False),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('measure', sa.String(200), nullable=False),
        sa.Column('unit', sa.String(100), nullable=False),
        sa.Column('baseline', sa.Float(), nullable=False),
        sa.Column('target', sa.Float(), nullable=False),
        sa.Column('current', sa.Float(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_by_employee_id', sa.String(64),
                  nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['pair_id'], ['scheduling_pair.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('scheduling_goal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduling_goal_pair_id'), ['pair_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_scheduling_goal_programme_id'), ['programme_id'],
                              unique=False)

    op.create_table(
        'scheduling_goal_progress',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('goal_id', sa.String(36), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.Column('recorded_on', sa.Date(), nullable=False),
        sa.Column('recorded_by_employee_id', sa.String(64),
                  nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['goal_id'], ['scheduling_goal.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('scheduling_goal_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduling_goal_progress_goal_id'), ['goal_id'],
                              unique=False)

    # A session logged before: its logger's part, as the old single log recorded it.
    op.execute(sa.text(
        "INSERT INTO scheduling_member_log (id, session_id, pair_id, author_employee_id,"
        " author_role, held_at, duration_minutes, mentor_attended, mentee_attended, topics,"
        " logged_at, correctable_until)"
        " SELECT s.id, s.id, s.pair_id, s.logged_by_employee_id,"
        " CASE WHEN p.mentor_employee_id = s.logged_by_employee_id"
        " THEN 'mentor' ELSE 'mentee' END,"
        " s.held_at, s.duration_minutes, :yes, :yes, '[]', COALESCE(s.logged_at, s.held_at),"
        " s.held_at"
        " FROM scheduling_session s JOIN scheduling_pair p ON p.id = s.pair_id"
        " WHERE s.status = 'held' AND s.logged_by_employee_id IS NOT NULL"
        " AND s.held_at IS NOT NULL"
    ).bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table('scheduling_goal_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduling_goal_progress_goal_id'))
    op.drop_table('scheduling_goal_progress')
    with op.batch_alter_table('scheduling_goal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduling_goal_programme_id'))
        batch_op.drop_index(batch_op.f('ix_scheduling_goal_pair_id'))
    op.drop_table('scheduling_goal')
    with op.batch_alter_table('scheduling_member_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduling_member_log_author_employee_id'))
        batch_op.drop_index(batch_op.f('ix_scheduling_member_log_pair_id'))
        batch_op.drop_index(batch_op.f('ix_scheduling_member_log_session_id'))
    op.drop_table('scheduling_member_log')
    with op.batch_alter_table('scheduling_pair', schema=None) as batch_op:
        batch_op.drop_column('closure_silent_since')
        batch_op.drop_column('at_risk_silent_since')
        batch_op.drop_column('fit_flagged_at')
    with op.batch_alter_table('scheduling_session', schema=None) as batch_op:
        batch_op.drop_column('key_takeaways')
    with op.batch_alter_table('scheduling_programme', schema=None) as batch_op:
        batch_op.drop_column('topics')
