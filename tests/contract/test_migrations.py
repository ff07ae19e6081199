"""Every service's migrations build its schema from nothing, match its models, and undo."""

from __future__ import annotations

import importlib

import pytest
from alembic import command

from tests.support.databases import DatabaseFactory
from upward_common.db import alembic_config

SERVICES = ["enrolment", "matching", "scheduling", "analytics"]


@pytest.mark.parametrize("name", SERVICES)
def test_migrations_reach_head_match_the_models_and_downgrade(
    name: str, databases: DatabaseFactory
) -> None:
    definition = importlib.import_module(f"{name}.main").SERVICE
    config = alembic_config(definition.migrations_dir, databases.new(name))
    command.upgrade(config, "head")
    command.check(config)  # raises when the models and the migrations disagree
    command.downgrade(config, "base")
    command.upgrade(config, "head")
