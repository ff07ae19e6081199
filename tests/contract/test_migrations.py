"""Every service's migrations build its schema from nothing, match its models, and undo."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

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


# Each service's migration that applies the kernel's v2 outbox DDL (dead letters).
OUTBOX_V2 = {"enrolment": "0004", "matching": "0002", "scheduling": "0002", "analytics": "0003"}


@pytest.mark.parametrize("name", SERVICES)
def test_outbox_rows_survive_the_dead_letter_migration_both_ways(
    name: str, databases: DatabaseFactory
) -> None:
    """Unsent rows stay unsent across the upgrade; a downgrade hands dead letters back."""
    definition = importlib.import_module(f"{name}.main").SERVICE
    url = databases.new(name)
    config = alembic_config(definition.migrations_dir, url)
    command.upgrade(config, f"{OUTBOX_V2[name]}-1")
    engine = sa.create_engine(make_url(url).set(
        drivername="sqlite" if url.startswith("sqlite") else "postgresql+psycopg"))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO outbox_event (event_id, subject, payload, created_at) "
                "VALUES ('e-1', 'mentoring.pair.ended', '{}', CURRENT_TIMESTAMP)"))
        command.upgrade(config, OUTBOX_V2[name])
        with engine.begin() as connection:
            assert connection.scalar(sa.text(
                "SELECT count(*) FROM outbox_event WHERE published_at IS NULL AND failed_at IS NULL"
            )) == 1
            connection.execute(sa.text("UPDATE outbox_event SET failed_at = CURRENT_TIMESTAMP, "
                                       "last_error = 'too large'"))
        command.downgrade(config, f"{OUTBOX_V2[name]}-1")
        with engine.begin() as connection:
            assert connection.execute(sa.text(
                "SELECT event_id, last_error FROM outbox_event WHERE published_at IS NULL"
            )).all() == [("e-1", "too large")]
    finally:
        engine.dispose()



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
