"""The sweep keeps the worker's heap out of the garbage collector's passes while it runs (workflows._heap_frozen),
and only then."""

from __future__ import annotations

import gc

import pytest

from helpdesk import workflows


class _Boom(Exception):
    pass


def test_it_freezes_the_heap_for_the_block_and_unfreezes_it_after_an_error():
    assert gc.get_freeze_count() == 0
    with pytest.raises(_Boom), workflows._heap_frozen():
        assert gc.get_freeze_count() > 0
        raise _Boom
    assert gc.get_freeze_count() == 0


def test_it_leaves_a_heap_the_process_froze_itself_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with workflows._heap_frozen():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_sweep_leaves_nothing_frozen(db):
    report = workflows.sweep()
    assert report.claimed == 0 and gc.get_freeze_count() == 0
