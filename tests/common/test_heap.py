"""The collector while a part runs: start-up's heap frozen, young collections rarer."""

from __future__ import annotations

import gc
import weakref

import pytest

from upward_common import heap
from upward_common.heap import THRESHOLDS, frozen_heap


def test_the_block_freezes_the_heap_and_sets_the_thresholds_and_puts_both_back() -> None:
    before = gc.get_threshold()
    assert before != THRESHOLDS
    kept = ["built at start-up"]
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS
        # What start-up built is in no generation a collection walks.
        assert not any(kept is tracked for tracked in gc.get_objects())
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    assert any(kept is tracked for tracked in gc.get_objects())


def test_the_first_part_in_a_process_collects_its_start_up_garbage_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heap, "_collected", False)
    class Cycle:
        def __init__(self) -> None:
            self.me = self

    collected: list[str] = []
    garbage = Cycle()
    weakref.finalize(garbage, collected.append, "cycle")
    del garbage
    with frozen_heap():
        assert collected == ["cycle"]


def test_a_part_failing_in_the_block_still_thaws_the_heap() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("stopped")
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_parts_stopping_in_any_order_put_the_first_ones_thresholds_back() -> None:
    before = gc.get_threshold()
    first, second = frozen_heap(), frozen_heap()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    # One part still runs: its heap stays frozen, its thresholds stay.
    assert gc.get_freeze_count() > 0 and gc.get_threshold() == THRESHOLDS
    second.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_later_part_freezes_without_walking_the_whole_heap_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heap, "_collected", False)
    collections: list[int] = []

    def counted(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            collections.append(1)

    with frozen_heap():
        pass
    gc.callbacks.append(counted)
    try:
        with frozen_heap():
            assert gc.get_freeze_count() > 0
    finally:
        gc.callbacks.remove(counted)
    assert collections == []
