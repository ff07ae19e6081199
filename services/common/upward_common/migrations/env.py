"""The one Alembic environment every service's `migrations/env.py` delegates to."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from upward_common.tables import KERNEL_TABLES
from upward_common.types import UTCDateTime


def run(owned_tables: Iterable[str]) -> None:
    """Migrate this service's database; autogenerate sees only the tables it owns.

    Every service's models share SQLModel's metadata in one interpreter, so the
    filter keeps another service's tables out of this service's migrations.
    """
    owned = frozenset(owned_tables) | KERNEL_TABLES

    def include_object(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        if type_ == "table":
            return name in owned
        table = getattr(obj, "table", None)
        return table is None or table.name in owned

    def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
        # Render our column types as plain SQLAlchemy ones so revisions stay
        # importable without the models.
        if type_ == "type":
            if isinstance(obj, UTCDateTime):
                return "sa.DateTime(timezone=True)"
            if isinstance(obj, AutoString):
                return f"sa.String({obj.length})" if obj.length else "sa.String()"
        return False

    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    options: dict[str, Any] = {
        "target_metadata": SQLModel.metadata,
        "include_object": include_object,
        "render_as_batch": url.startswith("sqlite"),
        "compare_type": True,
        "render_item": render_item,
    }

    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together migrate one at a time; the lock ends with
                # the transaction, and the next one finds the schema already current.
                connection.execute(text("SELECT pg_advisory_xact_lock(4242004201)"))
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(main())
