"""Fresh databases per test: SQLite files, or PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

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
