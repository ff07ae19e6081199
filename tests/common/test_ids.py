"""Time-ordered ids: formatted in runs, the same ids as one at a time, across every carry."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from upward_common.ids import time_ordered_ids

MILLIS_NS = 1_780_000_000_123_456_789


def one_at_a_time(count: int, millis: int, start: int) -> list[str]:
    """The RFC 9562 layout written out for each id: what the runs must reproduce."""
    out = []
    for offset in range(count):
        tail = start + offset
        value = ((millis << 80) | (0x7 << 76) | ((tail >> 62) << 64) | (0b10 << 62)
                 | (tail & ((1 << 62) - 1)))
        out.append(str(uuid.UUID(int=value)))
    return out


@pytest.mark.parametrize("start", [
    0, 1, 12345,
    (1 << 48) - 2,               # the last group carries into the fourth
    (5 << 48) - 1,
    (1 << 62) - 3,               # the 62 low bits carry into the third group
    (2047 << 62) + (1 << 62) - 2,
    (1 << 73) - 1 - 10,          # the highest start os.urandom can give, less the count
])
def test_the_ids_are_those_of_the_layout_one_by_one(start: int, monkeypatch: Any) -> None:
    monkeypatch.setattr("upward_common.ids.time.time_ns", lambda: MILLIS_NS)
    monkeypatch.setattr("upward_common.ids.os.urandom", lambda n: (start << 7).to_bytes(n, "big"))
    for count in (0, 1, 3, 10):
        made = time_ordered_ids(count)
        assert made == one_at_a_time(count, MILLIS_NS // 1_000_000, start)
        assert made == sorted(made) and len(set(made)) == count
        assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122
                   for i in made)


def test_ids_grow_from_a_random_start() -> None:
    first, second = time_ordered_ids(1000), time_ordered_ids(1000)
    assert first == sorted(first) and second == sorted(second)
    assert not set(first) & set(second)
