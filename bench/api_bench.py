"""API benchmark: ticket list, detail and create under a 50-client loopback load, with the two reference
points that make the figures mean something, measured in the same run:

- ceiling: GET /healthz on the same gunicorn (one SELECT 1 and one Redis PING, no auth, no tenant) --
  the best this stack (gunicorn + Django + PostgreSQL on this machine) can do per request;
- naive baseline: the same list and detail views with the plain queryset (no select_related, no
  prefetch, no defer), served by a second, identical gunicorn with bench.naive_settings.

    .venv/bin/python bench/api_bench.py [--duration 20] [--clients 50]

In order: drops and recreates the bench database (its name must contain "bench"), migrates it, seeds the
demo tenant (`seed_demo`) and a second tenant through `import_tickets` (so the tickets table holds two
tenants and RLS filters for real), creates an admin API token, counts SQL queries per request
in-process, starts both gunicorns exactly as `make run` starts the web server (helpdesk/launch.py) on
free 127.0.0.1 ports, checks a few answers, then drives each endpoint: first one client with wrk (the
service time), then --clients that each think --think-ms between requests (bench/paced.py: they arrive
spread over the first think period and are counted in steady state), then --clients wrk connections
with no think time (a closed loop: each client sends its next request as soon as the previous answer
arrives). Exits non-zero when a server dies, a command fails or an answer is wrong.
Needs wrk (`apt-get install -y wrk`), PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis.

Results and how to read them: bench/API.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import paced

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
HOST = "127.0.0.1"
HEALTH_TIMEOUT_S = 60
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"
OTHER_SLUG = "acme"
DETAIL_IDS = 500
# DESIGN.md, "Performance targets": p95 under a 50-client loopback load.
TARGETS_MS = {"list": 50.0, "detail": 50.0, "create": 80.0}
BASELINES = {"list": "naive_list", "detail": "naive_detail"}
BENCH_WRITE_RATE = 10_000_000  # writes a minute per token: the throttle counts, and never trips


class BenchError(RuntimeError):
    """The run cannot give trustworthy figures (a server died, an answer was wrong)."""


# --- wrk scripts -----------------------------------------------------------------------------------

# Shared by every endpoint: per-thread counters of 2xx / other answers, and one JSON line at the end.
WRK_COMMON = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  n2xx, nother, seq = 0, 0, 0
  math.randomseed(id * 7919)
end
function response(status, headers, body)
  if status >= 200 and status < 300 then n2xx = n2xx + 1 else nother = nother + 1 end
end
function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do ok = ok + t:get("n2xx"); bad = bad + t:get("nother") end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, '
    .. '"p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, '
    .. '"write_errors": %d, "timeouts": %d, "n2xx": %d, "non2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, ok, bad))
end
"""

WRK_DETAIL = r"""
local ids = {%(ids)s}
function request()
  seq = seq + 1
  return wrk.format("GET", "%(prefix)s" .. ids[((id * 7919 + seq) %% #ids) + 1] .. "/")
end
"""


# Unique, realistic bodies: the text goes through sentiment analysis, to_tsvector and the escalation rules
# like real mail (bench/paced.py holds the word lists and the mix; the paced pass sends the same).
def _lua_list(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(value) for value in values) + "}"


WRK_CREATE = (
    f"""
local subjects = {_lua_list(paced.SUBJECTS)}
local calm = {_lua_list(paced.CALM)}
local hot = {_lua_list(paced.HOT)}
local hot_categories = {_lua_list(paced.HOT_CATEGORIES)}
local categories = {_lua_list(paced.CATEGORIES)}
local priorities = {_lua_list(paced.PRIORITIES)}
local channels = {_lua_list(paced.CHANNELS)}
local HOT_TEXT, HOT_SHARE, REQUESTERS = {paced.HOT_TEXT:.4f}, {paced.HOT_SHARE:.4f}, {paced.REQUESTERS}
"""
    + r"""
local function pick(t) return t[math.random(#t)] end
function request()
  seq = seq + 1
  local parts = {}
  for i = 1, math.random(3, 5) do parts[i] = pick(calm) end
  local category = pick(categories)
  local roll = math.random()
  if roll < HOT_TEXT then
    parts[#parts + 1] = pick(hot)
  elseif roll < HOT_SHARE then
    category = pick(hot_categories)
  end
  local n = math.random(1, REQUESTERS)
  local body = string.format('{"subject": "%s (ref %d-%d)", "description": "%s", '
    .. '"requester": {"email": "customer%d@bench.test", "name": "Bench Customer %d"}, '
    .. '"priority": "%s", "channel": "%s", "category": "%s", "tags": ["bench", "%s"]}',
    pick(subjects), id, seq, table.concat(parts, " "), n, n, pick(priorities), pick(channels), category, category)
  return wrk.format("POST", "/api/v1/tickets/", nil, body)
end
"""
)


@dataclass(frozen=True)
class Endpoint:
    name: str
    server: str  # "app" or "naive"
    path: str
    lua: str  # endpoint-specific Lua (a request() function), after WRK_COMMON
    auth: bool = True
    method: str = "GET"
    ids: tuple[int, ...] = ()  # detail: the paced pass picks one of these after `path`

    def paced_target(self, token: str) -> paced.Target:
        return paced.Target(self.path, method=self.method, ids=self.ids, token=token if self.auth else None)


def endpoints(ids: list[int]) -> list[Endpoint]:
    """In run order: the ceiling first, the baselines before their endpoints, creates last (they add rows)."""
    id_list = ", ".join(map(str, ids))
    detail = lambda prefix: WRK_DETAIL % {"ids": id_list, "prefix": prefix}  # noqa: E731
    return [
        Endpoint("ceiling", "app", "/healthz", "", auth=False),
        Endpoint("naive_list", "naive", "/naive/tickets/?page_size=50", ""),
        Endpoint("list", "app", "/api/v1/tickets/?page_size=50", ""),
        Endpoint("naive_detail", "naive", "/naive/tickets/", detail("/naive/tickets/"), ids=tuple(ids)),
        Endpoint("detail", "app", "/api/v1/tickets/", detail("/api/v1/tickets/"), ids=tuple(ids)),
        Endpoint("create", "app", "/api/v1/tickets/", WRK_CREATE, method="POST"),
    ]


def wrk_script(endpoint: Endpoint, token: str, directory: Path) -> Path:
    headers = 'wrk.headers["Content-Type"] = "application/json"\n'
    if endpoint.auth:
        headers += f'wrk.headers["Authorization"] = "Token {token}"\n'
    path = directory / f"{endpoint.name}.lua"
    path.write_text(headers + WRK_COMMON + endpoint.lua)
    return path


def _proc_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, CPU seconds so far) for every process we can read."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may itself contain spaces or parentheses.
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry.name)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return stats


def _descendants(stats: dict, root: int) -> set[int]:
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (_, ppid, _) in stats.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier.extend(children)
    return found


def _serves(pid: int, database: str) -> bool:
    """Is this PostgreSQL backend connected to our database? (its process title names the database)"""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return f" {database} " in title


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes, the kernel)."""
    # The first line of /proc/stat: user nice system idle iowait irq softirq steal (clock ticks).
    ticks = [int(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pid: int, database: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far per process: the gunicorn tree, the PostgreSQL backends of our database."""
    stats = _proc_stats()
    return {
        "gunicorn": {pid: stats[pid][2] for pid in _descendants(stats, server_pid) if pid in stats},
        "postgres": {
            pid: cpu for pid, (name, _, cpu) in stats.items() if name == "postgres" and _serves(pid, database)
        },
        "machine": {0: _machine_busy()},
    }


def cpu_cores(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Cores busy per group between two snapshots. Per process, so a backend that closes meanwhile
    (connections are recycled after DB_CONN_MAX_AGE) loses only its own last share, not the group's."""
    return {
        group: sum(cpu - before[group].get(pid, 0.0) for pid, cpu in after[group].items()) / seconds for group in after
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"gunicorn '{self.name}' exited with {self.process.returncode}\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def server_start(name: str, settings_module: str, env: dict, directory: Path, extra: list[str]) -> Server:
    """The web server exactly as `make run` starts it (helpdesk/launch.py, _children), on a free port;
    `extra` (--gunicorn-arg) only for experiments, e.g. --reuse-port."""
    port = _free_port()
    argv = [
        str(BIN / "gunicorn"),
        "helpdesk.wsgi",
        "--config",
        "python:helpdesk.gunicorn_conf",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        os.environ.get("WEB_CONCURRENCY", "2"),
        "--threads",
        "4",
        "--access-logfile",
        "-",
        *extra,
    ]
    log = directory / f"gunicorn-{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, port, log)
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            if http(server.url + "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    raise BenchError(f"gunicorn '{name}' did not become healthy in {HEALTH_TIMEOUT_S} s\n{server.log_tail()}")


def server_stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def http(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- database and data -----------------------------------------------------------------------------


def database_recreate(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def created_tickets_escalated(url: str) -> dict:
    """How many of the tickets the creates opened fired an escalation rule: the share of create
    requests that paid for rule firing (escalation, routing, summary, its clocks) on top of evaluation."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        created, escalated = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE escalated) FROM tickets_ticket WHERE tags @> '{bench}'"
        ).fetchone()
    return {"created": created, "escalated": escalated, "share": round(escalated / created, 3) if created else 0}


def manage(env: dict, *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def other_tenant_seed(env: dict, slug: str, count: int, directory: Path) -> None:
    """A second tenant's tickets in the same tables, through the bulk import (`import_tickets`): the
    path a migrating tenant takes, and seconds instead of minutes for thousands of tickets."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    words = ["invoice", "export", "login", "sync", "webhook", "report", "refund", "search", "SSO", "import"]
    path = directory / f"{slug}.jsonl"
    with path.open("w") as out:
        for n in range(count):
            a, b = rng.sample(words, 2)
            ticket = {
                "subject": f"{a} problem after {b} change #{n}",
                "description": f"Our {a} stopped working after the {b} change. Could you have a look?",
                "requester": {"email": f"person{rng.randrange(400)}@{slug}.test"},
                "created_at": (now - timedelta(minutes=rng.randrange(60 * 24 * 90))).isoformat(),
                "priority": rng.choice(["low", "normal", "normal", "high"]),
                "channel": rng.choice(["email", "web", "chat", "phone"]),
                "category": rng.choice(["bug", "billing", "account", "how_to"]),
                "tags": [a.lower()],
            }
            out.write(json.dumps(ticket) + "\n")
    manage(env, "import_tickets", slug, str(path))


def ticket_ids(slug: str) -> list[int]:
    from helpdesk.models import Tenant
    from helpdesk.tenancy import tenant_context
    from tickets.models import Ticket

    tenant = Tenant.objects.get(slug=slug)
    with tenant_context(tenant):
        return list(Ticket.objects.order_by("id").values_list("id", flat=True))


CREATE_BODY = {
    "subject": "Bench check: export fails",
    "description": "Since this morning the export fails with error 500. Please help.",
    "requester": {"email": "check@bench.test", "name": "Check"},
    "category": "bug",
    "tags": ["bench"],
}


def query_counts(token: str, detail_id: int) -> dict[str, int]:
    """SQL statements per request, in-process through the same middleware and views. Every statement
    Django sends counts, BEGIN, COMMIT and SAVEPOINTs included; the connection health check does not."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    anonymous = Client(HTTP_HOST=HOST)
    client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Token {token}")
    cases = {
        "ceiling": (anonymous, "/healthz", None),
        "list?page_size=10": (client, "/api/v1/tickets/?page_size=10", None),
        "list?page_size=50": (client, "/api/v1/tickets/?page_size=50", None),
        "list?page_size=200": (client, "/api/v1/tickets/?page_size=200", None),
        "naive_list?page_size=10": (client, "/naive/tickets/?page_size=10", None),
        "naive_list?page_size=50": (client, "/naive/tickets/?page_size=50", None),
        "detail": (client, f"/api/v1/tickets/{detail_id}/", None),
        "naive_detail": (client, f"/naive/tickets/{detail_id}/", None),
        "create": (client, "/api/v1/tickets/", CREATE_BODY),
    }
    client.get("/api/v1/tickets/?page_size=1")  # the once-a-minute last_used_at write happens here
    counts = {}
    for name, (who, path, body) in cases.items():
        with CaptureQueriesContext(connection) as captured:
            response = who.post(path, data=body, content_type="application/json") if body else who.get(path)
        if response.status_code not in (200, 201):
            raise BenchError(f"in-process {name}: HTTP {response.status_code} {response.content[:300]!r}")
        counts[name] = len(captured)
    connection.close()
    return counts


def answers_check(app: Server, naive: Server, token: str, other_ids: list[int]) -> None:
    """Before timing anything: the servers answer what the API promises, tenant-scoped."""
    status, body = http(app.url + "/api/v1/tickets/?page_size=50", token)
    results = json.loads(body)["results"] if status == 200 else []
    if len(results) != 50 or {row["id"] for row in results} & set(other_ids):
        raise BenchError(f"list: HTTP {status}, {len(results)} rows, or rows outside the token's tenant")
    status, naive_body = http(naive.url + "/naive/tickets/?page_size=50", token)
    if status != 200 or [row["id"] for row in json.loads(naive_body)["results"]] != [row["id"] for row in results]:
        raise BenchError(f"naive list: HTTP {status}, or not the same page as the list")
    status, _ = http(f"{app.url}/api/v1/tickets/{other_ids[0]}/", token)
    if status != 404:
        raise BenchError(f"another tenant's ticket answered HTTP {status}, not 404")
    status, body = http(app.url + "/api/v1/tickets/", token, CREATE_BODY)
    if status != 201:
        raise BenchError(f"create: HTTP {status} {body[:300]!r}")


# --- load ------------------------------------------------------------------------------------------


def wrk_run(url: str, script: Path, *, clients: int, threads: int, seconds: int, server: Server, db: str) -> dict:
    argv = ["wrk", f"-t{min(threads, clients)}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s"]
    argv += ["-s", str(script), url]
    cpu_before = cpu_snapshot(server.process.pid, db)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(min(2.0, seconds / 2))
        split = connections_per_worker(server.port)
        stdout, stderr = process.communicate(timeout=seconds + 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_after = cpu_snapshot(server.process.pid, db)
    server.check_alive()
    line = next((x for x in stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if process.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({process.returncode}): {stdout[-2000:]}{stderr[-2000:]}")
    figures = json.loads(line.removeprefix("WRKJSON "))
    elapsed = figures["duration_us"] / 1e6
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    cores = cpu_cores(cpu_before, cpu_after, elapsed)
    cores["client"] = wrk_cpu / elapsed
    # Everything else that ran meanwhile: PostgreSQL's background processes, Redis, the kernel's share
    # of loopback networking, and whatever other work the machine had (another benchmark, a test run).
    cores["rest"] = cores.pop("machine") - cores["gunicorn"] - cores["postgres"] - cores["client"]
    cores = {name: round(value, 2) for name, value in cores.items()}
    return {
        "clients": clients,
        "rps": round(figures["requests"] / elapsed, 1),
        **{key: figures[key] for key in ("requests", "n2xx", "non2xx", "timeouts")},
        "socket_errors": figures["connect_errors"] + figures["read_errors"] + figures["write_errors"],
        **{f"{p}_ms": round(figures[f"{p}_us"] / 1000, 2) for p in ("p50", "p90", "p95", "p99", "max", "mean")},
        "cores": cores,
        "connections_per_worker": split,
    }


def connections_per_worker(port: int) -> list[int] | None:
    """How the load's connections are spread over the gunicorn workers, most loaded first. A kept-alive
    connection stays with the worker that accepted it, so an uneven split idles a worker (and a core)."""
    try:
        listing = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    pids = [part.split(",")[0] for line in listing.splitlines() for part in line.split("pid=")[1:2]]
    return sorted(Counter(pids).values(), reverse=True)


@dataclass(frozen=True)
class Pass:
    key: str
    clients: int
    seconds: int
    think_ms: int


def passes(args) -> list[Pass]:
    """One client (service time), --clients with think time, then --clients in a closed loop."""
    found = [Pass("c1", 1, args.single_seconds, 0)]
    if args.think_ms:
        found.append(Pass(f"c{args.clients}_think{args.think_ms}", args.clients, args.duration, args.think_ms))
    found.append(Pass(f"c{args.clients}", args.clients, args.duration, 0))
    return found


def phases_run(args, servers: dict[str, Server], token: str, order: list[Endpoint], directory: Path) -> dict:
    results: dict[str, dict] = {}
    for one in passes(args):
        print(f"{one.key}: {one.clients} client(s), think time {one.think_ms} ms, {one.seconds} s each", flush=True)
        for endpoint in order:
            server = servers[endpoint.server]
            if one.think_ms:
                row = paced_pass_run(endpoint, token, one, server=server, db=args.db, warmup=args.warmup)
            else:
                row = wrk_pass_run(endpoint, token, one, server=server, args=args, directory=directory)
            results.setdefault(one.key, {})[endpoint.name] = row
            print(
                f"  {endpoint.name:<13} {row['rps']:>7} req/s  p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms  "
                f"p99 {row['p99_ms']:>7} ms  non-2xx {row['non2xx']}  socket errors {row['socket_errors']}  "
                f"timeouts {row['timeouts']}  "
                f"cores {row['cores']}  connections per worker {row['connections_per_worker']}",
                flush=True,
            )
    return results


def wrk_pass_run(endpoint: Endpoint, token: str, one: Pass, *, server: Server, args, directory: Path) -> dict:
    threads = min(args.threads, one.clients)
    script = wrk_script(endpoint, token, directory)
    run = partial(
        wrk_run, server.url + endpoint.path, script, clients=one.clients, threads=threads, server=server, db=args.db
    )
    if one.clients > 1 and args.warmup:
        run(seconds=args.warmup)
    return run(seconds=one.seconds)


def paced_pass_run(endpoint: Endpoint, token: str, one: Pass, *, server: Server, db: str, warmup: int) -> dict:
    """The clients that think (bench/paced.py): counted after all have arrived (1.5 think times) and the
    warm-up, with the same CPU accounting as wrk_run; the "client" cores are this process's own."""
    settle = one.think_ms * 1.5 / 1000 + warmup
    cpu_before = cpu_snapshot(server.process.pid, db)
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    split: list = []
    sampler = threading.Timer(settle, lambda: split.append(connections_per_worker(server.port)))
    sampler.start()
    started = time.monotonic()
    row = paced.paced_run(
        endpoint.paced_target(token),
        server.port,
        clients=one.clients,
        think_ms=one.think_ms,
        warmup_s=settle,
        seconds=one.seconds,
    )
    elapsed = time.monotonic() - started
    sampler.cancel()
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_after = cpu_snapshot(server.process.pid, db)
    server.check_alive()
    cores = cpu_cores(cpu_before, cpu_after, elapsed)
    cores["client"] = (
        self_after.ru_utime + self_after.ru_stime - self_before.ru_utime - self_before.ru_stime
    ) / elapsed
    cores["rest"] = cores.pop("machine") - cores["gunicorn"] - cores["postgres"] - cores["client"]
    return row | {
        "cores": {name: round(value, 2) for name, value in cores.items()},
        "connections_per_worker": split[0] if split else None,
    }


# --- report ----------------------------------------------------------------------------------------


def ratios(rows: dict) -> dict:
    """Against the ceiling: how many times its p95, which share of its throughput. Against the naive
    baseline: the same two, where there is one (list, detail)."""
    ceiling = rows["ceiling"]
    out = {}
    for name in TARGETS_MS:
        row = rows[name]
        entry = {
            "p95_vs_ceiling": round(row["p95_ms"] / ceiling["p95_ms"], 2),
            "rps_vs_ceiling": round(row["rps"] / ceiling["rps"], 3),
        }
        if name in BASELINES:
            base = rows[BASELINES[name]]
            entry["p95_vs_naive"] = round(row["p95_ms"] / base["p95_ms"], 3)
            entry["rps_vs_naive"] = round(row["rps"] / base["rps"], 2)
        out[name] = entry
    return out


def verdict(rows: dict) -> dict:
    return {
        name: {
            "p95_ms": rows[name]["p95_ms"],
            "target_ms": target,
            # A request that timed out is in no percentile (wrk's and the paced client's alike): any makes it unmet.
            "met": rows[name]["p95_ms"] < target
            and rows[name]["non2xx"] == 0
            and rows[name]["socket_errors"] == 0
            and rows[name]["timeouts"] == 0,
        }
        for name, target in TARGETS_MS.items()
    }


def markdown(results: dict) -> str:
    """The figures as the tables of bench/API.md."""
    lines = []
    for key, rows in results.items():
        lines += [
            f"\n{key}:\n",
            "| endpoint | req/s | p50 ms | p95 ms | p99 ms | max ms | non-2xx | socket errors "
            "| cores: gunicorn / postgres / client / rest | connections per worker |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for name, row in rows.items():
            cores = row["cores"]
            lines.append(
                f"| {name} | {row['rps']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {row['max_ms']} "
                f"| {row['non2xx']} | {row['socket_errors']} "
                f"| {cores['gunicorn']} / {cores['postgres']} / {cores['client']} / {cores['rest']} "
                f"| {'/'.join(map(str, row['connections_per_worker'] or []))} |"
            )
    return "\n".join(lines)


def machine() -> dict:
    def run(*argv: str) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=10)
        except OSError:
            return ""
        return (done.stdout + done.stderr).strip() if done.returncode in (0, 1) else ""

    cpu = next(
        (
            x.split(":", 1)[1].strip()
            for x in Path("/proc/cpuinfo").read_text().splitlines()
            if x.startswith("model name")
        ),
        "?",
    )
    dirty = bool(run("git", "status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": run("nproc"),
        "cpu": cpu,
        "commit": (run("git", "rev-parse", "--short", "HEAD") or "unknown") + (" (dirty)" if dirty else ""),
        "postgres": run("psql", "-V"),
        "wrk": (run("wrk", "-v").splitlines() or ["?"])[0],
        "python": sys.version.split()[0],
    }


# --- main ------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per endpoint at --clients")
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections (closed loop)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default: one per core)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unrecorded load before each run")
    parser.add_argument("--single-seconds", type=int, default=5, help="seconds of one-client load per endpoint")
    parser.add_argument(
        "--think-ms",
        type=int,
        default=1000,
        help="think time of the paced --clients pass (0: skip that pass); keep 1.5 x it under gunicorn's 2 s "
        "keep-alive, or idle connections close and count as socket errors",
    )
    parser.add_argument("--tickets", type=int, default=2000, help="demo tenant tickets (seed_demo)")
    parser.add_argument("--other-tickets", type=int, default=5000, help="second tenant's tickets")
    parser.add_argument("--db", default="helpdesk_bench_api", help="bench database (dropped and recreated)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--gunicorn-arg",
        action="append",
        default=[],
        help="an extra gunicorn argument for an experiment (repeatable), e.g. --gunicorn-arg=--reuse-port",
    )
    args = parser.parse_args()
    if "bench" not in args.db:
        parser.error("--db must contain 'bench': it is dropped and recreated")
    if not 1 <= args.clients <= 1000 or not 1 <= args.duration <= 600:
        parser.error("--clients must be 1..1000 and --duration 1..600 (seconds)")
    if args.threads < 1 or args.clients % args.threads:
        parser.error("--clients must be a multiple of --threads (wrk gives each thread clients/threads)")
    return args


def wrk_ensure() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing; installing Debian's package", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        raise BenchError("wrk is not installed: apt-get install -y wrk")


def machine_quiet_check(seconds: float = 2.0) -> float:
    """Cores the machine is busy with before we start: other work skews every figure (see 'rest')."""
    before = _machine_busy()
    time.sleep(seconds)
    busy = (_machine_busy() - before) / seconds
    if busy > 0.2:
        print(f"warning: the machine is already busy with {busy:.2f} cores of other work", flush=True)
    return round(busy, 2)


def prepare(args, env: dict, directory: Path) -> tuple[str, list[int], list[int], dict]:
    """Fresh database, both tenants, a token; returns (token, demo ids, the other tenant's ids, query counts)."""
    started = time.monotonic()
    database_recreate(args.pg + "/postgres", args.db)
    manage(env, "migrate", "--noinput", "-v", "0")
    print(manage(env, "seed_demo", "--tickets", str(args.tickets)).splitlines()[0], flush=True)
    manage(env, "create_tenant", OTHER_SLUG, "--name", "Acme Corp")
    other_tenant_seed(env, OTHER_SLUG, args.other_tickets, directory)
    token = manage(env, "create_api_token", "demo", "--role", "admin", "--name", "api bench").strip().splitlines()[-1]

    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.naive_settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    # A live database has planner statistics (autovacuum); a freshly seeded one has none, and without
    # them PostgreSQL sorts the whole tenant to return one page.
    database_analyze(env["DATABASE_URL"])
    demo_ids, other_ids = ticket_ids("demo"), ticket_ids(OTHER_SLUG)
    counts = query_counts(token, demo_ids[len(demo_ids) // 2])
    print(
        f"prepared in {time.monotonic() - started:.0f} s: {len(demo_ids)} demo tickets, "
        f"{len(other_ids)} in tenant {OTHER_SLUG}",
        flush=True,
    )
    return token, demo_ids, other_ids, counts


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.pg}/{args.db}",
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "0",
        # One admin token drives all the clients, and a 20 s closed-loop pass of creates writes thousands of
        # times a minute: far past the production limit of 600, which would turn the pass into a measure of
        # 429s. The throttle still runs on every write (its Redis round trip is in the figures); it only
        # never refuses.
        "API_WRITE_RATE_PER_MINUTE": str(BENCH_WRITE_RATE),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        directory = Path(tmp)
        try:
            wrk_ensure()
            busy_before = machine_quiet_check()
            token, demo_ids, other_ids, counts = prepare(args, env, directory)
            print(f"queries per request: {counts}", flush=True)
            servers["app"] = server_start("app", "helpdesk.settings", env, directory, args.gunicorn_arg)
            servers["naive"] = server_start("naive", "bench.naive_settings", env, directory, args.gunicorn_arg)
            answers_check(servers["app"], servers["naive"], token, other_ids)
            order = endpoints(random.Random(1).sample(demo_ids, min(DETAIL_IDS, len(demo_ids))))
            results = phases_run(args, servers, token, order, directory)
            escalated = created_tickets_escalated(env["DATABASE_URL"])
            print(f"created tickets that escalated: {escalated}", flush=True)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            for server in servers.values():
                server_stop(server)
    report = {
        "machine": machine(),
        "command": " ".join([".venv/bin/python", "bench/api_bench.py", *sys.argv[1:]]),
        "settings": {key: getattr(args, key) for key in ("duration", "clients", "threads", "warmup", "think_ms")}
        | {"tickets": args.tickets, "other_tickets": args.other_tickets}
        | {"web_concurrency": os.environ.get("WEB_CONCURRENCY", "2"), "gunicorn_threads": 4}
        | {"gunicorn_extra_args": args.gunicorn_arg},
        "busy_cores_before": busy_before,
        "queries_per_request": counts,
        "created_tickets_escalated": escalated,
        "results": results,
        "ratios": {key: ratios(rows) for key, rows in results.items()},
        "verdict": {key: verdict(rows) for key, rows in results.items() if key != "c1"},
    }
    print(markdown(results))
    print(json.dumps({key: report[key] for key in ("machine", "ratios", "verdict")}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
