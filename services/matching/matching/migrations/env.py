"""Alembic environment of the matching database."""

from matching.models import TABLES
from upward_common.migrations.env import run

run(TABLES)
