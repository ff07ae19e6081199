"""programme dei topics

A programme's DEI topics (the catalogue topics a mentor teaches only after
opting in) come with `programme.updated`, from enrolment's one definition.
Programmes seen before keep an empty list until their next event, and fall
back to the default list meanwhile.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('matching_programme') as batch:
        batch.add_column(sa.Column('dei_topics', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matching_programme') as batch:
        batch.drop_column('dei_topics')
