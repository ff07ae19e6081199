"""participant cards

A participant's own `bio` (shown on their card), and what enrolment learns from
matching's events about who may see whose card: pairs while they are proposed
or active (`enrolment_card_pair`) and each mentee's latest shortlist
(`enrolment_card_shortlist`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('enrolment_participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bio', sa.Text(), nullable=True))
    op.create_table(
        'enrolment_card_pair',
        sa.Column('pair_id', sa.String(64), primary_key=True),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('mentor_participant_id', sa.String(64), nullable=True),
        sa.Column('mentee_participant_id', sa.String(64), nullable=True),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_enrolment_card_pair_mentor_participant_id', 'enrolment_card_pair',
                    ['mentor_participant_id'])
    op.create_index('ix_enrolment_card_pair_mentee_participant_id', 'enrolment_card_pair',
                    ['mentee_participant_id'])
    op.create_table(
        'enrolment_card_shortlist',
        sa.Column('mentee_participant_id', sa.String(64), primary_key=True),
        sa.Column('programme_id', sa.String(64), nullable=False),
        sa.Column('mentor_participant_ids', sa.JSON(), nullable=False),
        sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('enrolment_card_shortlist')
    op.drop_index('ix_enrolment_card_pair_mentee_participant_id', table_name='enrolment_card_pair')
    op.drop_index('ix_enrolment_card_pair_mentor_participant_id', table_name='enrolment_card_pair')
    op.drop_table('enrolment_card_pair')
    with op.batch_alter_table('enrolment_participant', schema=None) as batch_op:
        batch_op.drop_column('bio')
