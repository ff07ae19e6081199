"""invitations from enrolment

One row per HR invitation (`participant.invited`): the programme, the role, who
was invited (cleared on erasure) and when, for the health report's funnel.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'analytics_invitation',
        sa.Column('invitation_id', sa.String(64), nullable=False),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('employee_id', sa.String(64), nullable=True),
        sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('invitation_id'),
    )
    with op.batch_alter_table('analytics_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_invitation_employee_id'),
                              ['employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_analytics_invitation_programme_id'),
                              ['programme_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('analytics_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_invitation_programme_id'))
        batch_op.drop_index(batch_op.f('ix_analytics_invitation_employee_id'))
    op.drop_table('analytics_invitation')
