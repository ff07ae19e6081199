"""Work a service repeats in the background: a task of its own, every so many seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `work` every `interval_seconds`, from `start` until `stop`.

    A round that raises is logged (`failure`, with the traceback) and the next
    round runs as planned: one bad round never ends the work. Rounds never
    overlap: the next one waits out the interval after the last one ended.
    """

    def __init__(self, work: Callable[[], Awaitable[object]], *, interval_seconds: float,
                 name: str, failure: str, level: int = logging.ERROR) -> None:
        self.work = work
        self.interval_seconds = interval_seconds
        self.name, self.failure, self.level = name, failure, level
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await self.work()
            except Exception:
                log.log(self.level, self.failure, exc_info=True)


@contextlib.asynccontextmanager
async def periodically(work: Callable[[], Awaitable[object]], *, interval_seconds: float,
                       name: str, failure: str) -> AsyncIterator[None]:
    """`Periodic` for the block (a lifespan's); an interval of 0 runs it never."""
    periodic = Periodic(work, interval_seconds=interval_seconds, name=name, failure=failure)
    if interval_seconds > 0:
        periodic.start()
    try:
        yield
    finally:
        await periodic.stop()
