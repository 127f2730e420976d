"""Bench only (worker_rss_bench.py --tracemalloc FILE): `celery -A helpdesk worker ...` under tracemalloc, writing
after each sweep task one JSON line to FILE: the memory Python holds (traced, after a full collection), the count
of live objects, VmRSS, and where the traced memory grew since the previous sweep (the top lines of the snapshot
difference). RSS growing while the traced memory stays flat is the allocator keeping freed pages, not a leak.

    python bench/worker_tracemalloc.py FILE -A helpdesk worker --pool solo ...
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tracemalloc
from pathlib import Path

TOP = 25
# Frames kept per allocation: 1 (the allocating line) keeps the worker usable; more cost minutes a snapshot at
# the storm's size.
FRAMES = int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "1"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class Recorder:
    def __init__(self, out: Path):
        self.out, self.previous, self.count = out, None, 0

    def __call__(self, sender=None, **kwargs) -> None:
        if getattr(sender, "name", "") != "helpdesk.sweep":
            return
        gc.collect()
        self.count += 1
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        current, peak = tracemalloc.get_traced_memory()
        line = {"sweep": self.count, "traced_mb": round(current / 2**20, 1), "traced_peak_mb": round(peak / 2**20, 1),
                "objects": len(gc.get_objects()), "rss_mb": rss_mb(), "grew": []}  # fmt: skip
        if self.previous is not None:
            diff = snapshot.compare_to(self.previous, "traceback")
            line["grew"] = [
                {"kb": round(stat.size_diff / 1024, 1), "count": stat.count_diff,
                 "where": [f"{frame.filename}:{frame.lineno}" for frame in stat.traceback]}
                for stat in sorted(diff, key=lambda s: -s.size_diff)[:TOP]
            ]  # fmt: skip
        self.previous = snapshot
        tracemalloc.reset_peak()
        with self.out.open("a") as file:
            file.write(json.dumps(line) + "\n")


def main() -> None:
    out = Path(sys.argv[1])
    tracemalloc.start(FRAMES)
    from celery.__main__ import main as celery_main
    from celery.signals import task_postrun

    task_postrun.connect(Recorder(out), weak=False)
    sys.argv = ["celery", *sys.argv[2:]]
    celery_main()


if __name__ == "__main__":
    main()
