"""A service database at a given revision, and rows written and read as the service would."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import command

from upward_common.db import alembic_config, create_engine, upgrade
from upward_common.service import ServiceDefinition
from upward_common.types import UTCDateTime


def table(name: str, *columns: str, stamps: tuple[str, ...] = ()) -> sa.TableClause:
    """A bare table to write and read rows with; `stamps` are its UTC timestamp columns."""
    return sa.table(name, *(sa.column(c) for c in columns),
                    *(sa.column(stamp, UTCDateTime()) for stamp in stamps))


@dataclass
class MigratedDatabase:
    """One service's database, moved between revisions by its own migrations."""

    definition: ServiceDefinition
    url: str

    async def upgrade(self, revision: str = "head") -> None:
        await asyncio.to_thread(upgrade, self.definition.migrations_dir, self.url, revision)

    async def downgrade(self, revision: str) -> None:
        config = alembic_config(self.definition.migrations_dir, self.url)
        await asyncio.to_thread(command.downgrade, config, revision)

    async def write(self, into: sa.TableClause, **values: Any) -> None:
        # The kernel's engine: on SQLite, foreign keys are enforced as the service runs.
        engine = create_engine(self.url)
        try:
            async with engine.begin() as connection:
                await connection.execute(sa.insert(into).values(**values))
        finally:
            await engine.dispose()

    async def rows(self, statement: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(statement)]
        finally:
            await engine.dispose()
