"""Time-ordered ids for bulk writes (UUID version 7, RFC 9562)."""

from __future__ import annotations

import os
import time

# The last group's 48 bits: an id formats only them, the groups before change once
# in 2**48 ids.
_LAST_BITS = 48


def time_ordered_ids(count: int) -> list[str]:
    """`count` UUIDs version 7 of this millisecond, increasing in list order.

    Bulk writes insert rows in key order, so the indexes grow at their end
    instead of splitting pages all over. After the 48-bit millisecond and the
    version, the 74 bits left hold a counter from a random start (low enough
    never to overflow): 12 bits in the third group, 62 after the variant.

    Formatted in runs that share the first four groups, so each id formats
    only its last 12 hex digits: this runs for every row of an import and
    every event it emits.
    """
    millis = time.time_ns() // 1_000_000
    start = int.from_bytes(os.urandom(10), "big") >> 7
    ids: list[str] = []
    done = 0
    while done < count:
        # 48 bits of time, the version (7), then the counter with the variant
        # (0b10) in front of its 62 low bits.
        tail = start + done
        value = ((millis << 80) | (0x7 << 76) | ((tail >> 62) << 64) | (0b10 << 62)
                 | (tail & ((1 << 62) - 1)))
        last = value & ((1 << _LAST_BITS) - 1)
        run = min(count - done, (1 << _LAST_BITS) - last)
        text = f"{value:032x}"
        pattern = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-%012x"
        ids += map(pattern.__mod__, range(last, last + run))
        done += run
    return ids
