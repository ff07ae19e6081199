"""Alembic environment of the enrolment database."""

from enrolment.models import TABLES
from upward_common.migrations.env import run

run(TABLES)
