"""Alembic environment of the analytics database."""

from analytics.models import TABLES
from upward_common.migrations.env import run

run(TABLES)
