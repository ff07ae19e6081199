"""outbox dead letters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

from upward_common.migrations.kernel import (
    dead_letter_outbox_rows_v2,
    undo_dead_letter_outbox_rows_v2,
)


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dead_letter_outbox_rows_v2()


def downgrade() -> None:
    undo_dead_letter_outbox_rows_v2()
