"""The analytics migrations keep every stored row, both ways."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from analytics.main import SERVICE
from tests.support.databases import DatabaseFactory
from upward_common.db import alembic_config

ROWS = {
    "analytics_programme": "INSERT INTO analytics_programme (id, name, status, {column}) "
                           "VALUES ('prog-1', 'Digital', 'open', '2026-11-02 09:00:00')",
    "analytics_employee": "INSERT INTO analytics_employee (id, active, {column}) "
                          "VALUES ('e-1', true, '2026-11-02 09:00:00')",
    "analytics_goal": "INSERT INTO analytics_goal (id, pair_id, programme_id, status, "
                      "progress_percent, {column}) "
                      "VALUES ('g-1', 'p-1', 'prog-1', 'open', 20, '2026-11-02 09:00:00')",
}


def times(engine: sa.Engine, column: str) -> set[str]:
    with engine.connect() as connection:
        return {str(connection.scalar(sa.text(f"SELECT {column} FROM {table}")))[:19]
                for table in ROWS}


@contextmanager
def at_revision(databases: DatabaseFactory, revision: str) -> Iterator[tuple[Config, sa.Engine]]:
    """A new analytics database migrated to `revision`, with its config and a plain engine."""
    url = databases.new("analytics")
    config = alembic_config(SERVICE.migrations_dir, url)
    command.upgrade(config, revision)
    engine = sa.create_engine(make_url(url).set(
        drivername="sqlite" if url.startswith("sqlite") else "postgresql+psycopg"))
    try:
        yield config, engine
    finally:
        engine.dispose()


def test_the_rename_keeps_the_times_of_the_events_that_set_the_rows(
    databases: DatabaseFactory,
) -> None:
    with at_revision(databases, "0004") as (config, engine):
        with engine.begin() as connection:
            for insert in ROWS.values():
                connection.execute(sa.text(insert.format(column="updated_at")))
        command.upgrade(config, "0005")
        assert times(engine, "occurred_at") == {"2026-11-02 09:00:00"}
        command.downgrade(config, "0004")
        assert times(engine, "updated_at") == {"2026-11-02 09:00:00"}


LEVEL_ROWS = [  # two of e-1 at one instant: the digest of two offsets told them apart
    ("d-1", "e-1", "2026-11-02 09:00:00", 3), ("d-2", "e-1", "2026-11-02 09:00:00", 4),
    ("d-3", "e-1", "2026-11-09 09:00:00", 5), ("d-4", "e-2", "2026-11-02 09:00:00", 2),
]


def levels(engine: sa.Engine) -> set[tuple[str, str, int]]:
    with engine.connect() as connection:
        return {(employee, str(at)[:19], level) for employee, at, level in connection.execute(
            sa.text("SELECT employee_id, occurred_at, job_level FROM analytics_employee_level"))}


def test_the_level_history_keeps_its_rows_when_keyed_by_employee_and_time_both_ways(
    databases: DatabaseFactory,
) -> None:
    with at_revision(databases, "0011") as (config, engine):
        with engine.begin() as connection:
            for row in LEVEL_ROWS:
                connection.execute(sa.text(
                    "INSERT INTO analytics_employee_level (id, employee_id, occurred_at, "
                    "job_level) VALUES (:id, :employee, :at, :level)"),
                    dict(zip(("id", "employee", "at", "level"), row, strict=True)))
        command.upgrade(config, "0012")
        kept = {("e-1", "2026-11-02 09:00:00", 4), ("e-1", "2026-11-09 09:00:00", 5),
                ("e-2", "2026-11-02 09:00:00", 2)}
        assert levels(engine) == kept
        if engine.dialect.name == "sqlite":  # the key is the table: one B-tree to write
            with engine.connect() as connection:
                assert "WITHOUT ROWID" in connection.scalar(sa.text(
                    "SELECT sql FROM sqlite_master WHERE name = 'analytics_employee_level'"))
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.execute(sa.text(
                "INSERT INTO analytics_employee_level (employee_id, occurred_at, job_level) "
                "VALUES ('e-2', '2026-11-02 09:00:00', 6)"))
        command.downgrade(config, "0011")
        assert levels(engine) == kept
        with engine.connect() as connection:
            ids = set(connection.scalars(sa.text("SELECT id FROM analytics_employee_level")))
        assert len(ids) == 3 and all(len(key) == 64 for key in ids)
        assert "ix_analytics_employee_level_employee_id" in {
            index["name"] for index in sa.inspect(engine).get_indexes(
                "analytics_employee_level")}
        command.upgrade(config, "head")
        assert levels(engine) == kept


REPORT = ("INSERT INTO analytics_retention_report (programme_id, window_months, as_of, "
          "inputs_version, method, report, requested_at) VALUES (:programme, 24, "
          "'2026-06-30', 0, :method, '{}', '2026-07-01 08:00:00')")


def test_the_stored_retention_reports_and_their_inputs_version_come_and_go(
    databases: DatabaseFactory,
) -> None:
    with at_revision(databases, "0012") as (config, engine):
        command.upgrade(config, "0013")
        with engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT id, version FROM analytics_retention_inputs")).all() == [(1, 0)]
        with engine.begin() as connection:
            for programme in ("", "prog-1"):  # '' is every programme's
                connection.execute(sa.text(REPORT), {"programme": programme, "method": "a" * 64})
        with engine.begin() as connection, pytest.raises(sa.exc.IntegrityError):
            connection.execute(sa.text(REPORT), {"programme": "prog-1", "method": "b" * 64})
        key = sa.inspect(engine).get_pk_constraint("analytics_retention_report")
        assert key["constrained_columns"] == ["programme_id", "window_months", "as_of"]
        command.downgrade(config, "0012")
        left = set(sa.inspect(engine).get_table_names())
        assert not {"analytics_retention_report", "analytics_retention_inputs"} & left
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT id, version FROM analytics_retention_inputs")).all() == [(1, 0)]
            assert connection.scalar(sa.text(
                "SELECT count(*) FROM analytics_retention_report")) == 0
