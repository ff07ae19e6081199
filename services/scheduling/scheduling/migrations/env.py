"""Alembic environment of the scheduling database."""

from scheduling.models import TABLES
from upward_common.migrations.env import run

run(TABLES)
