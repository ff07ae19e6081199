"""Renaming `updated_at` to `occurred_at` keeps every stored time, both ways."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
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


def test_the_rename_keeps_the_times_of_the_events_that_set_the_rows(
    databases: DatabaseFactory,
) -> None:
    url = databases.new("analytics")
    config = alembic_config(SERVICE.migrations_dir, url)
    command.upgrade(config, "0004")
    engine = sa.create_engine(make_url(url).set(
        drivername="sqlite" if url.startswith("sqlite") else "postgresql+psycopg"))
    try:
        with engine.begin() as connection:
            for insert in ROWS.values():
                connection.execute(sa.text(insert.format(column="updated_at")))
        command.upgrade(config, "0005")
        assert times(engine, "occurred_at") == {"2026-11-02 09:00:00"}
        command.downgrade(config, "0004")
        assert times(engine, "updated_at") == {"2026-11-02 09:00:00"}
    finally:
        engine.dispose()
