"""A worker hands back to the system the memory a burst of work freed.

A storm sweep (10,000 due clocks, the escalations they open) reads and builds some 100 MB of rows and model
instances and frees them at its end. glibc keeps freed blocks in its heap for reuse, and the few objects that
outlive the sweep (configuration loaded into the cache, compiled calendars, Celery's bookkeeping) are scattered
through it, so the heap cannot shrink from its top: measured on a real worker, its RSS crept up ~2 MB a storm,
storm after storm, towards the first storm's peak (bench/SWEEP.md, "Issue 17: a worker's memory over 10
storms"). glibc's malloc_trim(0) returns every free page of the heap, wherever it lies. Elsewhere (musl, macOS)
there is no such call and nothing is done."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


def heap_trim() -> bool:
    """Returns the heap's free pages to the system; True when the C library gave some back."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
