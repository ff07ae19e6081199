"""How the kernel tunes SQLite's writes: the write-ahead log is checkpointed by the
service in the background, never inside a request's commit, and a bulk write gets a
large page cache for its transaction. PostgreSQL needs neither."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.common.conftest import recording_handler
from tests.support.databases import on_postgres
from tests.support.stack import Running, wait_until
from upward_common.db import (
    BULK_CACHE_KIB,
    CHECKPOINT_BACKSTOP_PAGES,
    WAL_SIZE_LIMIT_BYTES,
    bulk_page_cache,
)

sqlite_only = pytest.mark.skipif(on_postgres(), reason="SQLite's write-ahead log")

# Well past SQLite's own checkpoint threshold of 1,000 pages (4 MB).
ROWS, ROW_BYTES = 6000, 1000


def wal_frames(running: Running) -> tuple[int, int]:
    """(frames in the log, frames already copied into the database), read from the
    wal-index header in the `-shm` file (https://www.sqlite.org/walformat.html):
    `mxFrame` at byte 16, `nBackfill` at byte 96, in the machine's byte order."""
    database = make_url(running.app.state.settings.database_url).database
    header = Path(f"{database}-shm").read_bytes()[:136]
    return (int.from_bytes(header[16:20], sys.byteorder),
            int.from_bytes(header[96:100], sys.byteorder))


async def write_many_pages(running: Running) -> None:
    async with running.app.state.engine.begin() as connection:
        await connection.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, body TEXT)")
        await connection.exec_driver_sql(
            "INSERT INTO scratch (body) VALUES (?)", [("x" * ROW_BYTES,)] * ROWS)


@sqlite_only
async def test_a_large_commit_leaves_the_log_to_the_checkpointer(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler(),
                                    sqlite_checkpoint_seconds=3600) as running:
        async with running.app.state.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert (await pragma("PRAGMA wal_autocheckpoint")).scalar() == \
                CHECKPOINT_BACKSTOP_PAGES
            assert (await pragma("PRAGMA journal_size_limit")).scalar() == WAL_SIZE_LIMIT_BYTES
        await write_many_pages(running)
        logged, copied = wal_frames(running)
        # SQLite's default would have copied the log into the database in the commit.
        assert logged > 1000
        assert copied == 0
        busy, in_log, moved = await running.app.state.checkpointer.checkpoint()
        assert (busy, in_log, moved) == (0, logged, logged)
        assert wal_frames(running) == (logged, logged)


@sqlite_only
async def test_the_checkpointer_copies_the_log_on_its_own_and_outlives_a_failure(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler(),
                                    sqlite_checkpoint_seconds=0.05) as running:
        checkpointer = running.app.state.checkpointer
        real, calls = checkpointer.checkpoint, []

        async def failing_once() -> tuple[int, int, int]:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("disk hiccup")
            return await real()

        checkpointer.checkpoint = failing_once
        await wait_until(lambda: len(calls) >= 2)
        await write_many_pages(running)
        assert await wait_until(lambda: _copied_all(running))


def _copied_all(running: Running) -> bool:
    logged, copied = wal_frames(running)
    # Copied, or already started over by a later writer (nothing left to copy).
    return logged == copied


async def test_only_sqlite_gets_a_checkpointer(start_kernel_service: Any) -> None:
    async with start_kernel_service(recording_handler()) as running:
        assert (running.app.state.checkpointer is None) == on_postgres()


@sqlite_only
async def test_a_bulk_write_has_a_large_page_cache_until_its_block_ends(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler()) as running, \
            running.app.state.sessionmaker() as session:
        connection = await session.connection()

        async def cache_size() -> int:
            return int((await connection.exec_driver_sql("PRAGMA cache_size")).scalar())

        before = await cache_size()
        assert before == -2000  # SQLite's default, 2 MB
        with pytest.raises(RuntimeError):
            async with bulk_page_cache(session):
                assert await cache_size() == -BULK_CACHE_KIB
                raise RuntimeError("the write failed")
        # Back to what it was even when the block failed.
        assert await cache_size() == before
