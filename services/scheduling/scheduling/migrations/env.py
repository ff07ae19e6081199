"""Alembic environment of the scheduling database."""

from upward_common.migrations.env import run

from scheduling.models import TABLES

run(TABLES)
