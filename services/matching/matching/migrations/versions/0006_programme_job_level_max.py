"""programme job level max

The deployment's job-level scale (levels 1 to `job_level_max`) comes with
`programme.updated`, from enrolment's setting; the level-gap rules follow it.
Programmes seen before keep the former fixed scale (20) until their next event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('matching_programme') as batch:
        batch.add_column(sa.Column('job_level_max', sa.Integer(), nullable=False,
                                   server_default='20'))


def downgrade() -> None:
    with op.batch_alter_table('matching_programme') as batch:
        batch.drop_column('job_level_max')
