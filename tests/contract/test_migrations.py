"""Every service's migrations build its schema from nothing, match its models, and undo."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
from alembic import command

from tests.support.databases import DatabaseFactory, on_postgres
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



@pytest.mark.skipif(not on_postgres(), reason="replicas share PostgreSQL; SQLite is one process")
def test_replicas_migrating_at_once_all_succeed(databases: DatabaseFactory) -> None:
    """Several replicas start together, each migrating its database: none may fail."""
    url = databases.new("replicas")
    env = {**os.environ, "ENROLMENT_DATABASE_URL": url}
    runs = [subprocess.Popen([sys.executable, "-m", "upward_common", "migrate", "enrolment"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(3)]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    definition = importlib.import_module("enrolment.main").SERVICE
    command.check(alembic_config(definition.migrations_dir, url))
