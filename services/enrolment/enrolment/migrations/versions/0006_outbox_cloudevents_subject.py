"""outbox cloudevents subject

Outbox rows keep their CloudEvents subject (kernel DDL v3), so erasure can
forget what was published about a person without searching payloads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

from upward_common.migrations.kernel import (
    cloudevents_subject_column_v3,
    undo_cloudevents_subject_column_v3,
)


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    cloudevents_subject_column_v3()


def downgrade() -> None:
    undo_cloudevents_subject_column_v3()
