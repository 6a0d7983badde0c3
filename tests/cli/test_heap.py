"""A started process's objects are out of the full sweeps' way."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mailsleuth.cli import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_exists_and_makes_full_sweeps_rarer() -> None:
    gc.unfreeze()
    young, middle, _ = gc.get_threshold()
    started_with = [object() for _ in range(3)]  # tracked containers made before settling: a list
    heap.settle()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (young, middle, heap.FULL_SWEEP_AFTER)
    assert not any(started_with is candidate for candidate in gc.get_objects())  # frozen: no sweep walks it
    made_after: list[object] = []
    assert any(made_after is candidate for candidate in gc.get_objects(0))  # still collected as before
