"""helpdesk/memory.py: the heap a burst freed goes back to the system (glibc, as on every machine we run on)."""

from pathlib import Path

import pytest

from helpdesk.memory import _malloc_trim, heap_trim


def _rss_kb() -> int:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


@pytest.mark.skipif(_malloc_trim() is None, reason="not glibc: heap_trim does nothing there, by design")
def test_it_gives_back_a_heap_left_fragmented_by_a_few_survivors():
    # ~100 MB in blocks malloc serves itself (past pymalloc's 512 bytes, below its mmap threshold), one in 16 kept:
    # the survivors pin the heap, so freeing the rest returns nothing to the system until the heap is trimmed.
    blocks = [bytes(1000) + bytes([n % 256]) for n in range(100_000)]
    survivors = blocks[::16]
    del blocks
    before = _rss_kb()
    assert heap_trim() is True
    assert _rss_kb() < before - 50_000, (before, _rss_kb())
    assert len(survivors) == 6_250
