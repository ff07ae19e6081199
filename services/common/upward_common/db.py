"""Database engine, sessions and migrations; one database per service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from functools import cache, lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any

from alembic import command
from alembic.config import Config
from fastapi import Depends, Request
from pydantic_core import from_json, to_json
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm.util import identity_key
from sqlmodel.ext.asyncio.session import AsyncSession

from upward_common.periodic import Periodic

Sessionmaker = async_sessionmaker[AsyncSession]


# SQLite's own checkpoint runs inside the commit that takes its write-ahead log
# past this many pages (SQLite's default is 1,000, 4 MB). With a service's
# background checkpointer (`WalCheckpointer`) it is only the backstop for a log
# the checkpointer has not caught up with: one transaction of a 100,000-row
# import writes about 45,000 pages, and copying them into the database took
# half a second of the request that committed them.
CHECKPOINT_BACKSTOP_PAGES = 65_536
# The checkpoint a `WalCheckpointer` runs.
CHECKPOINT_SQL = "PRAGMA wal_checkpoint(PASSIVE)"
# What is left of a log file after a checkpoint (SQLite keeps its size otherwise).
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# A bulk write's SQLite page cache, in KiB (SQLite's default is 2 MB).
BULK_CACHE_KIB = 64 * 1024


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def json_text(value: Any) -> str:
    """A JSON column's stored text, by pydantic-core's serialiser (the standard
    library's serialiser costs several times as much per value, and bulk writes
    serialise every row's lists and objects)."""
    return to_json(value).decode()


def create_engine(url: str, *, background_checkpoints: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout. JSON columns
    are written by `json_text` and read by pydantic-core's parser.

    `background_checkpoints`: the caller runs a `WalCheckpointer` on the engine, so
    SQLite's commits leave the log's checkpoint to it (up to the backstop).
    """
    json_codec: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": from_json}
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **json_codec)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if background_checkpoints:
                cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BACKSTOP_PAGES}")
                cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                               **json_codec)


class WalCheckpointer(Periodic):
    """Checkpoints a SQLite database's write-ahead log every `interval_seconds`, off
    the request path.

    A PASSIVE checkpoint copies the log's committed pages into the database
    without waiting for readers or writers; once all are copied, the next
    writer starts the log over. The engine must come from `create_engine(url,
    background_checkpoints=True)`. A failed checkpoint is logged and the next
    one tried; a log it cannot keep up with falls back to SQLite's own
    checkpoint at `CHECKPOINT_BACKSTOP_PAGES`.
    """

    def __init__(self, engine: AsyncEngine, *, interval_seconds: float) -> None:
        super().__init__(self._round, interval_seconds=interval_seconds,
                         name="wal-checkpointer", failure="wal checkpoint failed; trying again",
                         level=logging.WARNING)
        self.engine = engine

    async def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (1 if it could not finish, pages in the log, pages
        copied into the database), as SQLite's `wal_checkpoint` reports them."""
        async with self.engine.connect() as connection:
            result = await connection.exec_driver_sql(CHECKPOINT_SQL)
            busy, logged, copied = (int(value) for value in result.one())
        return busy, logged, copied

    async def _round(self) -> None:
        await self.checkpoint()


async def try_advisory_lock(session: AsyncSession, key: int) -> bool:
    """PostgreSQL: take the transaction-scoped advisory lock `key` if free (released at the
    transaction's end), so one replica at a time does time-driven work."""
    result = await session.exec(text("SELECT pg_try_advisory_xact_lock(:key)")
                                .bindparams(key=key))  # type: ignore[call-overload]
    return bool(result.scalar())


@contextlib.asynccontextmanager
async def bulk_page_cache(session: AsyncSession) -> AsyncIterator[None]:
    """A large SQLite page cache for the bulk write in this block (PostgreSQL: nothing).

    A transaction that inserts tens of thousands of rows in key orders of their
    own (an import's external ids, its events' subjects) touches index pages
    all over; with SQLite's 2 MB cache it writes them out to the log and reads
    them back many times over. The connection's cache is back to what it was at
    the end of the block; SQLite frees the pages above it once the commit has
    written them.
    """
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int((await connection.exec_driver_sql("PRAGMA cache_size")).scalar_one())
    await connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        await connection.exec_driver_sql(f"PRAGMA cache_size={before}")


def make_sessionmaker(engine: AsyncEngine, **info: Any) -> Sessionmaker:
    # `info` reaches every session; the outbox uses it to wake its relay on commit.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, info=info)


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Apply the service's Alembic migrations (blocking; run it in a thread from async code)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(migrations_dir, url), revision)


async def upgrade_async(migrations_dir: Path, url: str) -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade, migrations_dir, url)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits once at the edge."""
    sessionmaker: Sessionmaker = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def ids_in(connection: AsyncConnection, column: Column[Any], ids: Collection[str], *,
                 not_null: Column[Any] | None = None) -> set[str]:
    """Which of `ids` are values of `column` (in rows where `not_null` is set, if named),
    in one statement whatever their number.

    On SQLite an IN whose ids are expanded at execution, built once per shape (an `in_`
    of the values would build and coerce a bound parameter per id each time). On
    PostgreSQL one array instead of a parameter per id (a few hundred of those cost
    the client more than the lookup, and psycopg parses such a statement anew each
    time), sent in binary (psycopg matches each element of a text array against a
    quoting pattern). Each id of the unnested array is looked up by a lateral probe
    that ends at the first row (`LIMIT 1`, which the planner cannot turn into a join):
    one index probe an id, whatever the table's statistics say. For `column =
    ANY(array)`, and for a join, the planner reads the whole table instead when its
    statistics are missing or rate a few hundred probes above a scan: ten times slower
    at 100,000 rows. Not prepared, so each call is planned with its own ids.
    """
    if not ids:
        return set()
    if connection.dialect.name != "postgresql":
        statement = _ids_in(column, not_null)
        return set((await connection.execute(statement, {"ids": list(ids)})).scalars())
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor:
        await cursor.execute(ids_in_sql(connection.dialect, column, not_null), [list(ids)],
                             prepare=False)
        return {row[0] for row in await cursor.fetchall()}


@cache
def ids_in_sql(dialect: Dialect, column: Column[Any], not_null: Column[Any] | None) -> str:
    """`ids_in`'s statement on PostgreSQL, its one parameter the array of ids (`%b`);
    built once per shape."""
    quote = dialect.identifier_preparer.quote
    kept = "" if not_null is None else f" AND stored.{quote(not_null.name)} IS NOT NULL"
    return (f"SELECT wanted.id FROM unnest(%b::text[]) AS wanted(id) CROSS JOIN LATERAL "
            f"(SELECT 1 FROM {quote(column.table.name)} AS stored "
            f"WHERE stored.{quote(column.name)} = wanted.id{kept} LIMIT 1) AS found")


@cache
def _ids_in(column: Column[Any], not_null: Column[Any] | None) -> Select[Any]:
    statement = select(column).where(column.in_(bindparam("ids", expanding=True)))
    return statement if not_null is None else statement.where(not_null.is_not(None))


# A bulk insert this large changes the table's shape enough to refresh its statistics.
_ANALYZE_AFTER = 5000
# Rows converted for SQLite's driver at a time: a bulk insert holds this many rows'
# driver tuples, not the whole list's (100,000 rows' are tens of megabytes).
_SQLITE_CHUNK = 5000


async def bulk_insert(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert many rows at driver speed: COPY on PostgreSQL, executemany on SQLite.

    Every row carries the same keys. Values go through the column types' own
    bind processors (memoised: an export repeats the same dates and zones),
    so what lands is what a Core insert would have written.
    """
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    quote = dialect.identifier_preparer.quote
    column_list = ", ".join(quote(name) for name in names)
    if dialect.name == "postgresql":
        json_columns = [i for i, c in enumerate(columns) if isinstance(c.type, JSON)]
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.cursor() as cursor, cursor.copy(
            f"COPY {quote(table.name)} ({column_list}) FROM STDIN"
        ) as copy:
            for row in rows:
                values = [row[name] for name in names]
                for i in json_columns:
                    if values[i] is not None:
                        values[i] = json_text(values[i])
                await copy.write_row(values)
        if len(rows) >= _ANALYZE_AFTER:
            # Fresh statistics: without them the planner misjudges a table that
            # just grew by thousands of rows (a first import fills it from empty).
            await connection.exec_driver_sql(f"ANALYZE {quote(table.name)}")
        return
    placeholders = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {quote(table.name)} ({column_list}) VALUES ({placeholders})"
    processors = [column.type._cached_bind_processor(dialect) for column in columns]
    for start in range(0, len(rows), _SQLITE_CHUNK):
        await connection.exec_driver_sql(statement, _driver_rows(
            rows[start:start + _SQLITE_CHUNK], names, processors))


def _driver_rows(rows: Sequence[Mapping[str, Any]], names: Sequence[str],
                 processors: Sequence[Any], *, process_none: bool = False) -> list[Any]:
    """The rows as the driver's tuples of `names`, each value through its processor."""
    # Row-wise tuples at C speed, then only the columns that need a conversion.
    getter = itemgetter(*names)
    prepared: list[Any] = ([getter(row) for row in rows] if len(names) > 1
                           else [(row[names[0]],) for row in rows])
    converted = False
    by_column: list[Any] = []
    for index, process in enumerate(processors):
        if process is None:
            continue
        if not converted:
            by_column = list(zip(*prepared, strict=True))
            converted = True
        by_column[index] = _converted(by_column[index], process, process_none)
    if converted:
        prepared = list(zip(*by_column, strict=True))
    return prepared


def _converted(values: Sequence[Any], process: Any, process_none: bool) -> list[Any]:
    """A column's values through its bind processor, once per distinct value (None
    stays None unless `process_none`: JSON's processor writes it as `null`)."""
    cache: dict[Any, Any] = {} if process_none else {None: None}
    out: list[Any] = []
    for index, value in enumerate(values):
        try:
            out.append(cache[value])
        except KeyError:
            out.append(cache.setdefault(value, process(value)))
        except TypeError:  # unhashable (JSON): the rest are converted one by one
            return out + [process(value) if process_none or value is not None else None
                          for value in values[index:]]
    return out


# When an upsert may overwrite the stored row: (table, the incoming row's `excluded`).
UpsertWhere = Callable[[Table, Any], ColumnElement[bool]]


async def upsert(
    session: AsyncSession, model: type[Any], rows: Sequence[Mapping[str, Any]], *,
    where: UpsertWhere | None = None, insert_only: Collection[str] = (),
    key: tuple[str, ...] = ("id",),
) -> None:
    """Insert each row, or update the stored one with the same `id` where `where` holds.

    One statement for the lot (INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE;
    `key` names the primary key's columns when it is not `id`):
    on PostgreSQL the rows travel as one array per column, unnested by the
    server (psycopg would send an executemany's rows one by one); on SQLite as
    one executemany. Columns in `insert_only` are written by the insert and
    never updated. Rows carry the same keys and distinct ids. Pending ORM
    changes are flushed first, and loaded copies of the written rows are
    detached afterwards, so a later read in the transaction sees the table.
    """
    if not rows:
        return
    await session.flush()
    connection = await session.connection()
    table: Table = model.__table__
    names = tuple(rows[0])
    updated = tuple(name for name in names if name not in key and name not in insert_only)
    dialect = connection.dialect
    if dialect.name == "postgresql":
        values: dict[str, Any] = {}
        for name in names:
            column = [row[name] for row in rows]
            if isinstance(table.c[name].type, JSON):
                column = [None if value is None else json_text(value) for value in column]
            values[name] = column
        statement: Any = _upsert_arrays(table, names, updated, where, key)
    else:
        statement = _upsert_rows(table, names, updated, where, key)
    driver = _driver_statement(statement, names, dialect)
    if driver is None:
        await connection.execute(statement, values if dialect.name == "postgresql"
                                 else list(rows))
    elif dialect.name == "postgresql":
        sql, _, processors = driver
        await connection.exec_driver_sql(sql, {
            name: values[name] if process is None else process(values[name])
            for name, process in zip(names, processors, strict=True)})
    else:
        sql, order, processors = driver
        await connection.exec_driver_sql(sql, _driver_rows(rows, order, processors,
                                                           process_none=True))
    loaded = session.sync_session.identity_map
    if loaded:
        for row in rows:
            ident = row[key[0]] if len(key) == 1 else tuple(row[name] for name in key)
            held = loaded.get(identity_key(model, ident))
            if held is not None:
                session.expunge(held)


# The statements hold no data and are built once per shape: making `excluded` and
# the clauses costs more than writing a run's rows.


@cache
def _upsert_rows(table: Table, names: tuple[str, ...], updated: tuple[str, ...],
                 where: UpsertWhere | None, key: tuple[str, ...]) -> sqlite.Insert:
    statement = sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={name: statement.excluded[name] for name in updated},
        where=where(table, statement.excluded) if where is not None else None)


@cache
def _upsert_arrays(table: Table, names: tuple[str, ...], updated: tuple[str, ...],
                   where: UpsertWhere | None, key: tuple[str, ...]) -> postgresql.Insert:
    columns = []
    for name in names:
        kind = table.c[name].type
        if isinstance(kind, JSON):  # JSON travels as text and is cast back, element by element
            columns.append(cast(func.unnest(bindparam(name, type_=postgresql.ARRAY(Text))),
                                kind).label(name))
        else:
            columns.append(func.unnest(bindparam(name, type_=postgresql.ARRAY(kind))).label(name))
    statement = postgresql.insert(table).from_select(names, select(*columns))
    return statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={name: statement.excluded[name] for name in updated},
        where=where(table, statement.excluded) if where is not None else None)


# A statement compiled for the driver: its SQL, the row keys in parameter order and
# each parameter's bind processor.
DriverStatement = tuple[str, tuple[str, ...], tuple[Any, ...]]


@lru_cache(maxsize=256)
def _driver_statement(statement: Any, names: tuple[str, ...], dialect: Dialect
                      ) -> DriverStatement | None:
    """An upsert's SQL for the driver itself, with what its parameters need; None when
    it takes more than the rows' values (a Python-side default, a bound constant).

    SQLite: through Core an executemany builds and processes a parameter dict per
    row, which costs more than the write; the same processors applied column by
    column (memoised, as in `bulk_insert`) leave the driver the same values.
    PostgreSQL: one parameter per column (its values in `names` order, processed
    as a whole), sent in binary (`%(name)b`): psycopg writes a text array by
    matching every element against a quoting pattern, several times the cost of
    the whole statement's binary form.
    """
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(names))
    if (compiled.insert_prefetch or compiled.escaped_bind_names
            or sorted(compiled.binds) != sorted(names)):
        return None
    sql: str = compiled.string
    if dialect.name == "postgresql":
        for name in names:
            placeholder = f"%({name})s"
            if compiled.positional or sql.count(placeholder) != 1:
                return None
            sql = sql.replace(placeholder, f"%({name})b")
        order = names
    else:
        order = tuple(compiled.positiontup or ())
        if not compiled.positional or sorted(order) != sorted(names):
            return None
    processors = tuple(compiled.binds[name].type._cached_bind_processor(dialect)
                       for name in order)
    return sql, order, processors
