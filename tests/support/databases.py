"""Fresh databases per test: SQLite files, or PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from upward_common.db import CHECKPOINT_SQL

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def on_postgres() -> bool:
    return bool(TEST_DATABASE_URL)


class DatabaseFactory:
    """Hands out a new, empty database per call and drops them all at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []

    def _admin_dsn(self) -> str:
        url = make_url(TEST_DATABASE_URL or "")
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def new(self, name: str) -> str:
        if not on_postgres():
            return f"sqlite+aiosqlite:///{self.tmp / f'{name}.db'}"
        database = f"upward_t_{uuid.uuid4().hex[:12]}_{name}"
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self.created.append(database)
        url = make_url(TEST_DATABASE_URL or "").set(drivername="postgresql+psycopg",
                                                   database=database)
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            for database in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.created.clear()


@contextmanager
def statements(engine: AsyncEngine, *, leaving_out: str | None = None) -> Iterator[list[str]]:
    """The SQL statements the engine runs meanwhile (an executemany counts once), but
    those containing `leaving_out` (say, the outbox relay's polls) and the service's
    background checkpoints of SQLite's log."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        sql = args[2]
        if (leaving_out is None or leaving_out not in sql) and sql != CHECKPOINT_SQL:
            seen.append(sql)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def postgres_plan(connection: AsyncConnection, sql: str, params: Any) -> str:
    """PostgreSQL's plan for a driver-level statement (`%b` placeholders allowed), planned
    with its parameters as the services send it (not prepared)."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor:
        await cursor.execute(f"EXPLAIN {sql}", params, prepare=False)
        return "\n".join(line for (line,) in await cursor.fetchall())
