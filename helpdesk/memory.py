"""A worker hands back to the system the memory a burst of work freed.

A storm sweep (10,000 due clocks, the escalations they open) builds some 40 MB of rows and model instances more
than it keeps, and frees them at its end. glibc keeps freed blocks in its heap for reuse, and the few objects
that outlive the sweep are scattered through it, so the heap cannot shrink from its top; malloc_trim(0) returns
its free pages wherever they lie. Measured on a real worker over 10 storms (bench/SWEEP.md, "Issue 17: a
worker's memory over 10 storms"): the RSS sat 3-10 MB lower over the first four storms and moved within 237-243
MB from the fifth on (241 -> 249 without), but Python's own arenas, most of the RSS, are out of its reach: not
flat either, and one run each on a loaded machine.
Elsewhere (musl, macOS) there is no such call and nothing is done."""

from __future__ import annotations

import ctypes
import functools


@functools.cache
def _malloc_trim():
    # The symbols the process already has (the C library it runs on): no ldconfig run to find libc by name.
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def heap_trim() -> bool:
    """Returns the heap's free pages to the system; True when the C library gave some back."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
