"""Indexes for looking participants up by employee and RSVPs by employee

Planning finds a pair member's participant by (programme, employee): with only the
single-column indexes, SQLite walks every participant of the programme for each
lookup, which grows with the programme. A calendar feed finds the group sessions its
employee said yes to: the RSVPs' key starts with the group session, so that scanned
every RSVP.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scheduling_participant', schema=None) as batch_op:
        batch_op.create_index('ix_scheduling_participant_programme_employee',
                              ['programme_id', 'employee_id'], unique=False)
    with op.batch_alter_table('scheduling_group_rsvp', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduling_group_rsvp_employee_id'),
                              ['employee_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('scheduling_group_rsvp', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduling_group_rsvp_employee_id'))
    with op.batch_alter_table('scheduling_participant', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduling_participant_programme_employee')
