"""The garbage collector, tuned for a part (a service or the gateway) while it runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations (less deallocations) before a young collection: CPython's default, 700,
# collected the youngest objects dozens of times within one GraphQL answer or batch of
# events, and every object such an answer held through those collections was moved on
# to the older generations, whose collections walk everything they hold. Then every
# 20 young collections a middle one, and every 100 of those an old one (CPython also
# waits for the old generation to grow by a quarter). The young objects a collection
# walks at 50,000 are a few megabytes at most.
THRESHOLDS = (50_000, 20, 100)


# Parts running in this process (tests run several at once), and the thresholds that were
# set before the first of them started.
_running = 0
_before = gc.get_threshold()
# Whether a part has collected its start-up garbage in this process already.
_collected = False


@contextmanager
def frozen_heap() -> Iterator[None]:
    """For the block (a part's life, once it has started): what start-up built (modules,
    the app, its schemas and state) is left out of every collection, and collections run
    at `THRESHOLDS`.

    A full collection walks every tracked object, start-up's few hundred thousand
    included, and a consumer's batches or a gateway's large answers set them off often
    (bench/README.md has the figures). The first part to start in
    a process collects first, so no start-up garbage is kept for good; a part started
    later in the same process (tests start thousands) freezes without collecting, since
    there a full collection walks everything the earlier ones left, and what it freezes
    is thawed when they stop. Once the last part running in the process leaves
    its block (whatever the order they stop in), the heap is thawed and the thresholds
    from before the first are put back, so parts stopped in a process that goes on
    (tests) leave nothing uncollectable behind.
    """
    global _running, _before, _collected
    if _running == 0:
        _before = gc.get_threshold()
    _running += 1
    try:
        if not _collected:
            _collected = True
            gc.collect()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
        yield
    finally:
        _running -= 1
        if _running == 0:
            gc.set_threshold(*_before)
            gc.unfreeze()
