"""A real Celery worker's memory over N storm sweeps (issue 17: "a worker's memory stays flat over 10 storm
sweeps"), and its idle sweep after them.

    .venv/bin/python bench/worker_rss_bench.py --timers 100000 --tenants 1000 --due 10000 --storms 10

bench/sweep_bench.py's `--storms` runs the sweeps in the bench's own process, which is not a worker: no
broker, no Celery task machinery, no dispatch tasks queued by the sweep's commits and consumed after it. This
starts the worker production runs (`celery -A helpdesk worker`, `--pool solo --concurrency 1`, on the queue
the sweep task is routed to), against a database seeded by sweep_bench (same data, same --reuse, same
`make_due`/`restore` re-arming), and for each storm: re-arms the due set, sends `helpdesk.sweep` through
Redis, waits for the worker's log to say the task succeeded, reads the sweep's report from the worker's log
(`sweep done: {...}`, logged whole by workflows.sweep), checks it and the database (every due clock fired
once, the escalations the default matrix opens for them), waits until the dispatch tasks the sweep queued
are consumed, and reads the worker's VmRSS from /proc. With the solo pool the task runs in the worker's main
process; the bench checks that the process has no children (so the pid it reads is the one that ran the
task) and that its CPU time grew by the sweep's work. Then idle sweeps through the worker (nothing due).

With --concurrency N (N > 1) the worker runs a prefork pool of N processes, as docker-compose does: a storm's
sweep asks for SWEEP_JOINERS joiners, which the pool's idle processes run; the bench waits for every sweep task the
storm brought, sums their reports (the sweep's own first) and reads memory and CPU over the pool's processes. The
storm's time is then the round trip, from sending the sweep to the last joiner's end.

The worker is stopped at the end and on any error (SIGTERM to its process group, then SIGKILL).
Results: bench/SWEEP.md, "Issue 17: a worker's memory over 10 storms".
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import sweep_bench
from bench.sweep_bench import PYTHON, ROOT, SECRET_KEY, BenchError, log, uptime

# Growth of the settled RSS from the second storm to the last that still counts as flat. The first storm
# warms caches (imports, compiled plans, per-tenant configuration); a leak of one small object per fired
# clock or escalation (10,000 a storm) would add megabytes a storm, well past this over 8 storms.
FLAT_MB = 5.0
TASK_TIMEOUT_S = 1800
DISPATCHED = re.compile(r"Task helpdesk\.dispatch\[[^\]]+\] succeeded")
SWEEP_DONE = re.compile(r"^\[[^\]]*/(?P<process>[\w-]+)\] sweep done: (?P<report>\{.*\})$", re.MULTILINE)


# --- the worker process ----------------------------------------------------------------------------


class Worker:
    """`celery -A helpdesk worker --pool solo` in its own process group, its log in a file."""

    def __init__(self, env: dict, queue: str, log_path: Path, tracemalloc: Path | None = None, concurrency: int = 1):
        self.env, self.queue, self.log_path, self.concurrency = env, queue, log_path, concurrency
        self.launcher = ["-m", "celery"]
        if tracemalloc is not None:
            # Bench-only debugging: the worker under tracemalloc, one line per sweep (bench/worker_tracemalloc.py).
            self.launcher = [str(ROOT / "bench" / "worker_tracemalloc.py"), str(tracemalloc)]
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        argv = [
            PYTHON, *self.launcher, "-A", "helpdesk", "worker", "--pool", self.pool,
            "--concurrency", str(self.concurrency), "-Q", self.queue, "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_for(lambda text: " ready." in text, timeout, "the worker's ' ready.'")

    @property
    def pool(self) -> str:
        return "solo" if self.concurrency == 1 else "prefork"

    @property
    def pid(self) -> int:
        return self.process.pid

    def processes(self) -> list[int]:
        """The processes that run tasks: the worker itself (solo), or its pool's children (prefork)."""
        return [self.pid] if self.concurrency == 1 else children(self.pid)

    def text(self, offset: int = 0) -> str:
        return self.log_path.read_bytes()[offset:].decode(errors="replace")

    def size(self) -> int:
        return self.log_path.stat().st_size

    def wait_for(self, found, timeout: float, what: str, offset: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text(offset)
            if found(text):
                return text
            if self.process.poll() is not None:
                raise BenchError(f"the worker exited ({self.process.returncode}) waiting for {what}:\n{text[-3000:]}")
            time.sleep(0.2)
        raise BenchError(f"{what} not in the worker's log after {timeout} s:\n{self.text(offset)[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def memory(pid: int) -> dict:
    """VmRSS (resident now) and VmHWM (its peak so far), in MB, from /proc/<pid>/status."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            found[key] = int(value.split()[0])
    return {"rss_mb": round(found["VmRSS"] / 1024, 1), "hwm_mb": round(found["VmHWM"] / 1024, 1),
            "threads": found["Threads"]}  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The process's child processes (all its threads'): none with the solo pool, so the task ran in `pid`."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


# --- one sweep through the broker ------------------------------------------------------------------


def queue_idle(client, queue: str) -> bool:
    """Nothing waiting in the queue and nothing of it reserved by the worker (acks_late: kombu's unacked hash holds
    [message, exchange, routing key] per reserved message, of every queue on this Redis database)."""
    if client.llen(queue):
        return False
    return all(json.loads(entry)[2] != queue for entry in client.hvals("unacked"))


def sweep_on_worker(worker: Worker, client) -> dict:
    """Sends the sweep, waits for its success line, reads its report from the log; then waits until the
    dispatch tasks its commits queued have run (the worker idle), as between two beats."""
    from helpdesk.celery import app

    offset = worker.size()
    cpu_before = sum(cpu_seconds(pid) for pid in worker.processes())
    sent = time.monotonic()
    task_id = app.send_task("helpdesk.sweep", queue=worker.queue).id
    marker = re.compile(rf"Task helpdesk\.sweep\[{task_id}\] (succeeded in (?P<runtime>[\d.]+)s|raised|retry|failed)")
    text = worker.wait_for(lambda t: marker.search(t), TASK_TIMEOUT_S, f"the end of task {task_id}", offset)
    end = marker.search(text)
    if end.group("runtime") is None:
        raise BenchError(f"the sweep did not succeed: {end.group(0)}\n{text[-3000:]}")
    text = worker.wait_for(_sweeps_ended, TASK_TIMEOUT_S, "the end of the sweep's joiners", offset)
    round_trip = time.monotonic() - sent
    received = text.find(f"Task helpdesk.sweep[{task_id}] received")
    done = list(SWEEP_DONE.finditer(text, max(received, 0)))
    sweeps = len(set(SWEEP_RECEIVED.findall(text)) - set(SWEEP_DROPPED.findall(text)))
    if received < 0 or len(done) != sweeps:
        raise BenchError(f"expected {sweeps} 'sweep done' lines (task {task_id} and its joiners), found {len(done)}")
    # A joiner that expired in the queue (a solo pool reaches it only after the sweep) was dropped: harmless.
    dropped = len(SWEEP_DROPPED.findall(text))
    after_sweep = _memory_of(worker)
    cpu_after = sum(cpu_seconds(pid) for pid in worker.processes())
    drained = time.monotonic()
    while not queue_idle(client, worker.queue):
        if time.monotonic() - drained > TASK_TIMEOUT_S:
            raise BenchError("the worker did not drain the queue after the sweep")
        time.sleep(0.2)
    time.sleep(1.0)  # the last dispatch's log line and its connection's release
    tail = worker.text(offset)
    # The sweep's own report first (the line its process logged last before the task's end), then its joiners'.
    ended_in = rf"/(?P<process>[\w-]+)\] Task helpdesk\.sweep\[{task_id}\] succeeded"
    ran_in = re.search(ended_in, text[max(0, end.start() - 200) :])
    own = [line for line in done if line.start() < end.start() and line.group("process") == ran_in.group("process")]
    done.remove(own[-1])
    done.insert(0, own[-1])
    reports = [ast.literal_eval(line.group("report")) for line in done]
    return {
        "report": _summed(reports),
        "joiners_dropped": dropped,
        "sweeps": [
            {
                "process": line.group("process"),
                "seconds": report["seconds"],
                "escalated": report["escalated"],
                "claimed": report["claimed"],
            }
            for line, report in zip(done, reports, strict=True)
        ],
        "process": done[0].group("process"),
        "task_runtime_s": float(end.group("runtime")),
        "round_trip_s": round(round_trip, 3),
        "worker_cpu_s": round(cpu_after - cpu_before, 2),
        "after_sweep": after_sweep,
        "settled": _memory_of(worker),
        "drain_s": round(time.monotonic() - drained, 1),
        "dispatch_tasks_after": len(DISPATCHED.findall(tail, end.end())),
        "errors_in_log": len(re.findall(r"ERROR/|Traceback", tail)),
        "children": children(worker.pid),
    }


SWEEP_RECEIVED = re.compile(r"Task helpdesk\.sweep\[([\w-]+)\] received")
SWEEP_ENDED = re.compile(r"Task helpdesk\.sweep\[([\w-]+)\] (?:succeeded|raised|failed|retry)")
SWEEP_DROPPED = re.compile(r"Discarding revoked task: helpdesk\.sweep\[([\w-]+)\]")


def _sweeps_ended(text: str) -> bool:
    """Every sweep task received (the sweep, its joiners) ended, or was dropped (a joiner expired in the queue)."""
    ended = set(SWEEP_ENDED.findall(text)) | set(SWEEP_DROPPED.findall(text))
    return set(SWEEP_RECEIVED.findall(text)) <= ended


def _summed(reports: list[dict]) -> dict:
    """The sweep's report with its joiners' counts added (their stage times are their own: the first one's kept)."""
    return {**reports[0], **sweep_bench.summed_counts(reports)}


def _memory_of(worker: Worker) -> dict:
    """The task processes' memory: summed over a prefork pool's children."""
    found = [memory(pid) for pid in worker.processes()]
    return {key: round(sum(one[key] for one in found), 1) for key in ("rss_mb", "hwm_mb", "threads")}


def check_storm(args, run: dict, checks: dict) -> None:
    """A storm that did nothing, or only part of its work, must not pass as a flat one."""
    report, warns = run["report"], round(args.due * args.warn_share)
    expected = {"claimed": args.due, "warned": warns, "breached": args.due - warns,
                "escalated": args.expect_escalated, "failed_tenants": 0}  # fmt: skip
    wrong = {key: (report[key], value) for key, value in expected.items() if report[key] != value}
    opened = checks["side_effects"]["rows_created"].get("escalation_escalation", 0)
    if opened != args.expect_escalated:
        wrong["escalation rows opened"] = (opened, args.expect_escalated)
    if args.concurrency == 1 and (run["process"] != "MainProcess" or run["children"]):
        wrong["ran in"] = (run["process"], f"children {run['children']}")
    if run["errors_in_log"]:
        wrong["errors in the worker's log"] = (run["errors_in_log"], 0)
    if wrong:
        raise BenchError(f"storm (found, expected): {wrong}")


# --- phases ------------------------------------------------------------------------------------------


def phase_storms(args, worker: Worker, client, results: dict) -> None:
    runs = []
    for index in range(args.storms):
        sweep_bench.make_due(args, at=datetime.now(UTC))
        sweep_bench.preflight(args, expect_due=args.due)
        load_before, before = uptime(), datetime.now(UTC)
        run = sweep_on_worker(worker, client)
        checks = sweep_bench.verify(args, before=before)
        check_storm(args, run, checks)
        report = run["report"]
        runs.append({
            "storm": index + 1,
            "rss_mb": run["settled"]["rss_mb"],
            "rss_right_after_mb": run["after_sweep"]["rss_mb"],
            "hwm_mb": run["settled"]["hwm_mb"],
            "threads": run["settled"]["threads"],
            "sweep_s": report["seconds"],
            "stage_seconds": report["stage_seconds"],
            "task_runtime_s": run["task_runtime_s"],
            "worker_cpu_s": run["worker_cpu_s"],
            "round_trip_s": run["round_trip_s"],
            "sweeps": run["sweeps"],
            "joiners_dropped": run["joiners_dropped"],
            "claimed": report["claimed"], "warned": report["warned"], "breached": report["breached"],
            "escalated": report["escalated"], "escalations_opened": checks["side_effects"]["rows_created"].get(
                "escalation_escalation", 0),
            "tenants": report["tenants"], "batches": report["batches"],
            "notifications": report["notifications"],
            "dispatch_tasks_after": run["dispatch_tasks_after"], "drain_s": run["drain_s"],
            "load_before": load_before, "load_after": uptime(),
        })  # fmt: skip
        row = runs[-1]
        log(
            f"storm {index + 1}/{args.storms}: RSS {row['rss_mb']} MB (right after {row['rss_right_after_mb']}, "
            f"peak {row['hwm_mb']}), sweep {row['sweep_s']} s (with its {len(row['sweeps']) - 1} joiner(s): storm "
            f"{row['round_trip_s']} s), worker CPU {row['worker_cpu_s']} s, "
            f"escalated {row['escalated']}, dispatch tasks after {row['dispatch_tasks_after']}; {row['load_after']}"
        )
    results["storms"] = runs


def phase_idle(args, worker: Worker, client, key: str, results: dict) -> None:
    sweep_bench.make_due(args, at=datetime.now(UTC) + timedelta(days=1))  # parked: nothing due
    runs = []
    for _ in range(args.idle_runs):
        run = sweep_on_worker(worker, client)
        if run["report"]["claimed"] or (args.concurrency == 1 and run["children"]):
            raise BenchError(f"an idle sweep claimed {run['report']['claimed']} (children {run['children']})")
        runs.append(run)
    sweep_ms = [run["report"]["seconds"] * 1000 for run in runs]
    results[key] = {
        "runs": len(runs),
        "sweep_median_ms": round(statistics.median(sweep_ms), 2),
        "sweep_max_ms": round(max(sweep_ms), 2),
        "task_runtime_median_ms": round(statistics.median(run["task_runtime_s"] * 1000 for run in runs), 2),
        "round_trip_median_ms": round(statistics.median(run["round_trip_s"] * 1000 for run in runs), 1),
        "rss_mb": runs[-1]["settled"]["rss_mb"],
        "load": uptime(),
    }
    log(f"idle sweeps through the worker ({key}): {results[key]}")


def conclude(results: dict) -> None:
    runs = results["storms"]
    rss = [run["rss_mb"] for run in runs]
    warm = rss[1:] if len(rss) > 1 else rss
    growth = round(warm[-1] - warm[0], 1)
    results["verdict"] = {
        "rss_storm_1_mb": rss[0],
        "rss_storm_2_mb": warm[0],
        "rss_last_mb": rss[-1],
        "growth_storm_2_to_last_mb": growth,
        "min_max_from_storm_2_mb": [min(warm), max(warm)],
        "flat_within_mb": FLAT_MB,
        "flat": abs(growth) <= FLAT_MB and max(warm) - min(warm) <= 2 * FLAT_MB,
        "idle_target_ms": sweep_bench.TARGET_IDLE_MS,
        "idle_met": results["idle_after"]["sweep_max_ms"] < sweep_bench.TARGET_IDLE_MS,
    }


def table(results: dict) -> str:
    lines = [
        "| storm | RSS settled MB | RSS right after MB | peak MB | sweep s | worker CPU s | escalated "
        "| load before → after |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in results["storms"]:
        load = " → ".join(
            run[key].split("load average:")[-1].strip().split(",")[0] for key in ("load_before", "load_after")
        )
        lines.append(
            f"| {run['storm']} | {run['rss_mb']} | {run['rss_right_after_mb']} | {run['hwm_mb']} "
            f"| {run['sweep_s']:.2f} | {run['worker_cpu_s']} | {run['escalated']:,} | {load} |"
        )
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--warn-share", type=float, default=0.5)
    parser.add_argument("--storms", type=int, default=10)
    parser.add_argument("--idle-runs", type=int, default=5, help="idle sweeps through the worker (median)")
    parser.add_argument("--expect-escalated", type=int, help="escalations a storm opens (default: --due)")
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database of the same shape")
    parser.add_argument("--db", default="helpdesk_bench_worker_rss", help="bench database (dropped and recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the broker: a database of its own")
    parser.add_argument("--worker-log", type=Path, default=Path("/tmp/worker_rss_bench.log"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--tracemalloc", type=Path, help="debug: run the worker under tracemalloc, lines to this file")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="1: the solo pool; more: a prefork pool of this many (joiners)"
    )
    parser.add_argument(
        "--worker-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment of the worker"
    )
    args = parser.parse_args()
    if "bench" not in args.db:
        parser.error("--db must contain 'bench': it is dropped and recreated")
    if args.storms < 2 or args.idle_runs < 1:
        parser.error("--storms must be at least 2 (the first warms caches), --idle-runs positive")
    if args.expect_escalated is None:
        args.expect_escalated = args.due  # the default matrix escalates every ticket whose clock breaches or warns
    return args


def _terminated(signum, frame):
    raise SystemExit(f"signal {signum}")  # so the worker is stopped by the finally below


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminated)
    env = {"DATABASE_URL": f"{args.pg}/{args.db}", "REDIS_URL": args.redis_url, "SECRET_KEY": SECRET_KEY, "DEBUG": "0"}
    sweep_bench.django_setup(env)
    import redis

    from helpdesk.celery import app

    app.loader.import_default_modules()
    queue = app.amqp.router.route({}, "helpdesk.sweep")["queue"].name
    results: dict = {"command": " ".join([".venv/bin/python", "bench/worker_rss_bench.py", *sys.argv[1:]])}
    results["params"] = {**sweep_bench.params_of(args), "storms": args.storms, "queue": queue,
                         "worker_env": args.worker_env, "concurrency": args.concurrency}  # fmt: skip
    client = redis.Redis.from_url(args.redis_url)
    worker_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "PYTHONPATH": str(ROOT)}
    worker_env.update(item.split("=", 1) for item in args.worker_env)  # e.g. PYTHONMALLOC=malloc
    worker = Worker(worker_env, queue, args.worker_log, args.tracemalloc, args.concurrency)
    try:
        if args.reuse and sweep_bench.reuse_check(args):
            sweep_bench.migrate({**os.environ, **env})
            results["generation"] = "reused"
            log(f"reusing {args.db} (migrated)")
        else:
            results["generation"] = sweep_bench.generate(args, {**os.environ, **env})
        results["machine"] = sweep_bench.machine(args)
        client.delete(queue, "unacked", "unacked_index")  # stale tasks of an earlier run on this broker database
        worker.start()
        results["worker"] = {"pid": worker.pid, "log": str(args.worker_log), "started": _memory_of(worker)}
        log(f"worker {worker.pid} ready on queue {queue!r}: {results['worker']['started']}")
        phase_idle(args, worker, client, "idle_before", results)
        phase_storms(args, worker, client, results)
        phase_idle(args, worker, client, "idle_after", results)
        conclude(results)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        worker.stop()
    print(table(results))
    print(json.dumps(results["verdict"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
