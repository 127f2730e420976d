"""pgbouncer in transaction pooling mode in front of the app, with real processes: a throwaway PostgreSQL
cluster, Debian's pgbouncer (two server connections for many clients), gunicorn logging in through it as a
non-owner LOGIN role (`DATABASE_APP_URL`), two tenants writing and reading at once.

Under transaction pooling a session-level `SET ROLE` stays on whichever server connection ran it, so the
app must not rely on it: with `DATABASE_APP_URL` every server connection is the app role's own, and the
tenant is `SET LOCAL`. The test proves both tenants only ever see their own rows while their transactions
share the same two server connections, and that no query reached PostgreSQL as the owner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from tests.faults.processes import Cluster, PrivateRedis, Web, app_env, free_port, manage, wait_until
from tests.integration.conftest import ROOT

pytestmark = pytest.mark.faults

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
POOLED_ROLE = "helpdesk_pooled"


class Bouncer:
    """pgbouncer on 127.0.0.1:<port>, transaction pooling, 2 server connections per database and user."""

    def __init__(self, *, port: int, backend_port: int):
        # Its own directory under /tmp: as root, pgbouncer runs as postgres, who cannot enter pytest's tmp_path.
        self.workdir = Path(tempfile.mkdtemp(prefix="helpdesk-pgbouncer-"))
        self.port, self.backend_port = port, backend_port
        self.process: subprocess.Popen | None = None

    def start(self) -> Bouncer:
        assert os.path.exists(PGBOUNCER), "pgbouncer is missing: apt-get install pgbouncer (.ci/run installs it)"
        users = self.workdir / "users.txt"
        users.write_text(f'"{POOLED_ROLE}" ""\n"postgres" ""\n')
        config = self.workdir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.backend_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 200\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\npidfile = {self.workdir / 'pgbouncer.pid'}\n"
        )
        argv = [PGBOUNCER, str(config)]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            argv[1:1] = ["-u", "postgres"]
            shutil.chown(self.workdir, "postgres")
            for path in (users, config):
                shutil.chown(path, "postgres")
        with open(self.workdir / "stderr.log", "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=20, what="pgbouncer")
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            logs = [self.workdir / name for name in ("stderr.log", "pgbouncer.log")]
            raise AssertionError("\n".join(path.read_text(errors="replace") for path in logs if path.exists()))
        try:
            psycopg.connect(self.url("helpdesk"), connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def url(self, db: str, user: str = POOLED_ROLE) -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pgbouncer")
    cluster = Cluster(port=free_port()).init().start()
    redis = PrivateRedis(free_port(), workdir).start()
    bouncer = web = None
    try:
        cluster.connect("postgres").execute("CREATE DATABASE helpdesk").connection.close()
        owner_env = app_env(cluster.url(), redis.url)
        manage(owner_env, "migrate", "-v0")  # as the owner, straight to PostgreSQL
        with cluster.connect() as conn:
            conn.execute(f"CREATE ROLE {POOLED_ROLE} LOGIN INHERIT IN ROLE helpdesk_app")
        tenants = {}
        for name in ("Acme", "Globex"):
            slug = f"{name.lower()}-{uuid.uuid4().hex[:6]}"
            manage(owner_env, "create_tenant", slug, "--name", name)
            token = manage(owner_env, "create_api_token", slug, "--role", "admin").strip().splitlines()[-1]
            tenants[name] = token
        bouncer = Bouncer(port=free_port(), backend_port=cluster.port).start()
        env = app_env(cluster.url(), redis.url, DATABASE_APP_URL=bouncer.url("helpdesk"))
        web = Web(env, port=free_port(), log=workdir / "gunicorn.log", workers=2).start()
        yield cluster, bouncer, web, tenants
    finally:
        if web is not None:
            web.stop()
        if bouncer is not None:
            bouncer.stop()
        redis.stop()
        cluster.destroy()


def _create(web: Web, token: str, subject: str) -> requests.Response:
    body = {"subject": subject, "description": "It smokes.", "requester": {"email": "pat@example.com"}}
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": uuid.uuid4().hex}
    return requests.post(web.base + "/api/v1/tickets/", json=body, headers=headers, timeout=60)


def _subjects(web: Web, token: str) -> list[str]:
    response = requests.get(
        web.base + "/api/v1/tickets/?page_size=200", headers={"Authorization": f"Token {token}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    return [ticket["subject"] for ticket in response.json()["results"]]


def test_two_tenants_through_transaction_pooling_see_only_their_own_rows(pooled):
    cluster, _bouncer, web, tenants = pooled

    def work(i: int) -> tuple[str, requests.Response, list[str]]:
        name = "Acme" if i % 2 else "Globex"
        created = _create(web, tenants[name], f"{name} ticket {i}")
        return name, created, _subjects(web, tenants[name])

    # 8 gunicorn threads, 2 server connections: the tenants' transactions take turns on the same backends.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(40)))

    failed = [(created.status_code, created.text) for _, created, _ in results if created.status_code != 201]
    assert not failed, failed  # the server's side of it: the gunicorn log in the report (conftest.py)
    for name, _, seen in results:
        assert seen and all(subject.startswith(f"{name} ticket") for subject in seen), (name, seen)
    assert sorted(_subjects(web, tenants["Acme"])) == sorted(f"Acme ticket {i}" for i in range(1, 40, 2))
    assert sorted(_subjects(web, tenants["Globex"])) == sorted(f"Globex ticket {i}" for i in range(0, 40, 2))
    # What PostgreSQL saw: every connection from pgbouncer to the app's database is the pooled role's,
    # at most the two of the pool; none is the owner's.
    with cluster.connect("postgres") as conn:
        backends = conn.execute(
            "SELECT usename, count(*) FROM pg_stat_activity WHERE datname = 'helpdesk' GROUP BY usename"
        ).fetchall()
    assert dict(backends).get(POOLED_ROLE, 0) <= 2 and set(dict(backends)) <= {POOLED_ROLE}, backends


def test_through_the_pool_the_app_runs_as_the_pooled_role_under_row_level_security(pooled):
    cluster, bouncer, _web, _tenants = pooled
    # The same login the app uses, through the same pool, without a tenant: RLS shows nothing at all.
    with psycopg.connect(bouncer.url("helpdesk"), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == POOLED_ROLE
        assert conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0] == 0
    assert cluster.scalar("SELECT count(*) FROM tickets_ticket") >= 40  # as the superuser: they are there


def test_a_privileged_app_login_is_refused(pooled):
    cluster, bouncer, _, _ = pooled
    # The owner (here a superuser) as DATABASE_APP_URL would switch row-level security off: refused.
    env = app_env(cluster.url(), "redis://127.0.0.1:1/0", DATABASE_APP_URL=bouncer.url("helpdesk", "postgres"))
    connect = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
    done = subprocess.run(
        [sys.executable, "-c", connect],
        env={**env, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "row-level security would not apply" in done.stderr


def test_the_sweep_runs_through_the_pool_and_escalates_both_tenants(pooled):
    cluster, bouncer, web, _tenants = pooled
    with cluster.connect() as conn:  # every running clock due a minute ago (as the superuser)
        conn.execute(
            "UPDATE slas_slatimer SET due_at = now() - interval '1 minute', warn_at = now() - interval '2 minutes',"
            " next_check_at = now() - interval '2 minutes' WHERE status = 'running'"
        )
        due = conn.execute("SELECT count(DISTINCT ticket_id) FROM slas_slatimer WHERE status = 'running'").fetchone()[0]
    env = {**web.env, "DATABASE_APP_URL": bouncer.url("helpdesk")}
    report = json.loads(manage(env, "sweep").strip().splitlines()[-1])
    assert report["breached"] >= due > 0 and report["failed_tenants"] == 0, report
    with cluster.connect() as conn:
        escalated = conn.execute(
            "SELECT count(DISTINCT tenant_id) FROM escalation_escalation WHERE trigger <> 'manual'"
        ).fetchone()[0]
        left = conn.execute("SELECT count(*) FROM slas_slatimer WHERE status = 'running' AND due_at < now()").fetchone()
    assert escalated == 2 and left[0] == 0
