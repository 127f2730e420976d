"""The sweep paces the garbage collector while it runs (workflows._collector_paced): the heap alive before it
frozen out of the collections, the young generation collected less often; and only while it runs."""

from __future__ import annotations

import gc

import pytest

from helpdesk import workflows


class _Boom(Exception):
    pass


def test_it_paces_the_collector_for_the_block_and_restores_it_after_an_error():
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    with pytest.raises(_Boom), workflows._collector_paced():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (workflows.SWEEP_GC_THRESHOLD, *thresholds[1:])
        raise _Boom
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds


def test_it_leaves_a_heap_the_process_froze_itself_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with workflows._collector_paced():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_sweep_leaves_the_collector_as_it_found_it(db):
    thresholds = gc.get_threshold()
    report = workflows.sweep()
    assert report.claimed == 0 and gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
