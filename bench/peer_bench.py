"""Side by side with django-helpdesk (issue 17): in one invocation, on the same machine and the same PostgreSQL
(127.0.0.1:5432), the peer's `escalate_tickets` on N due tickets (and N not due), then our whole sweep on N due
tickets escalated by a time rule (sla_risk: the default matrix's sla-breached / sla-at-risk), and the ratio of
escalated tickets per second, ours / the peer's (target: >= 20).

    .venv/bin/python bench/peer_bench.py --due 1000 [--peer-dir /tmp/engine_peer] [--tenants 10]

The peer: `../shared/peer/django-helpdesk/seed_and_time.py`'s main scenario, unmodified, run with the peer's
own virtualenv (copy the folder to --peer-dir and `python3 -m venv .venv && .venv/bin/pip install -r
requirements.txt` there first, as its README says). Its script starts an embedded PostgreSQL through
`pgserver`; this bench hands it a stand-in `pgserver` module that points it at our server instead (same
PostgreSQL, stock settings), so the two runs share the database server, the disk and the 2 cores.

Ours: bench/sweep_bench.py with --timers 2N (N due, N not) --due N over --tenants tenants; the figure is the
tickets whose clocks fired (all of them escalate) over the whole sweep's seconds (SLA stage, escalations, fan-out).
`uptime`'s load is printed with each figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Stands in for pgserver in the peer's process: the same calls, on our PostgreSQL.
PGSERVER_SHIM = """
import sys, types, psycopg
class _Server:
    def get_pid(self):
        return -1
    def psql(self, sql):
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(sql)
    def cleanup(self):
        pass
module = types.ModuleType("pgserver")
module.get_server = lambda *a, **k: _Server()
sys.modules["pgserver"] = module
import runpy
sys.argv = ["seed_and_time.py", *sys.argv[1:]]
runpy.run_path("seed_and_time.py", run_name="__main__")
"""


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_peer(args) -> dict:
    peer = Path(args.peer_dir)
    out = Path(tempfile.mkdtemp(prefix="peer-")) / "results.json"
    shim = peer / "run_on_shared_pg.py"
    shim.write_text(PGSERVER_SHIM)
    before = load()
    started = time.perf_counter()
    subprocess.run(
        [str(peer / ".venv/bin/python"), shim.name, "--pgdata", "127.0.0.1", "--db", args.peer_db,
         "--sizes", str(args.due), "--big", "0", "--scenarios", "main", "--out", str(out)],
        cwd=peer, check=True,
    )  # fmt: skip
    row = json.loads(out.read_text())["main"][0]
    return {
        "due": row["n_due"],
        "not_due": row["n_not_due"],
        "seconds": row["run1"]["seconds"],
        "escalated": row["run1"]["followups_created"],
        "tickets_per_s": row["tickets_per_s"],
        "queries_per_ticket": row["queries_per_ticket"],
        "wall_s": round(time.perf_counter() - started, 1),
        "load_before": before,
        "load_after": load(),
    }


def run_ours(args) -> dict:
    out = Path(tempfile.mkdtemp(prefix="ours-")) / "sweep.json"
    before = load()
    subprocess.run(
        [sys.executable, "bench/sweep_bench.py", "--timers", str(2 * args.due), "--due", str(args.due),
         "--tenants", str(args.tenants), "--idle-runs", "3", "--naive", str(min(args.due, 1000)),
         "--db", args.ours_db, "--redis-url", args.redis_url, "--json", str(out), "--drop"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    due = json.loads(out.read_text())["due"]
    tickets = due["report"]["tickets"]
    return {
        "due": args.due,
        "not_due": args.due,
        "seconds": due["seconds"],
        "stage_seconds": due["stage_seconds"],
        "tickets_escalated": tickets,
        "escalations": due["report"]["escalated"],
        "tickets_per_s": round(tickets / due["seconds"], 1),
        "load_before": before,
        "load_after": load(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--peer-dir", default="/tmp/engine_peer")
    parser.add_argument("--peer-db", default="helpdesk_bench_peer_dh")
    parser.add_argument("--ours-db", default="helpdesk_bench_peer_ours")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {"command": " ".join([".venv/bin/python", "bench/peer_bench.py", *sys.argv[1:]])}
    results["peer"] = run_peer(args)
    print(f"peer: {results['peer']}", flush=True)
    results["ours"] = run_ours(args)
    print(f"ours: {results['ours']}", flush=True)
    results["ratio"] = round(results["ours"]["tickets_per_s"] / results["peer"]["tickets_per_s"], 1)
    print(
        f"escalated tickets per second: ours {results['ours']['tickets_per_s']}, "
        f"peer {results['peer']['tickets_per_s']}, ratio {results['ratio']}x (target >= 20x)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
