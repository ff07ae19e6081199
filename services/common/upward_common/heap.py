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


@contextmanager
def frozen_heap() -> Iterator[None]:
    """For the block (a part's life, once it has started): what start-up built (modules,
    the app, its schemas and state) is left out of every collection, and collections run
    at `THRESHOLDS`.

    A full collection walks every tracked object: with start-up's few hundred thousand in
    each walk, it was about a fifth of a consumer's CPU per event, and a gateway answering
    a dashboard spent more than a third of its CPU collecting. Collected first, so no
    start-up garbage is kept for good. The block's end thaws the heap and puts the old
    thresholds back, so a part stopped in a process that goes on (tests) leaves nothing
    uncollectable behind.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
