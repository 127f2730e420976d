"""One throwaway PostgreSQL cluster, migrated, with gunicorn and a private Redis in front of it, shared by
a module's fault tests (the cluster costs ~10 s to make and migrate). Every test gets the stack back up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import requests

from tests.faults.processes import Cluster, PrivateRedis, Web, app_env, free_port, manage, wait_until


@dataclass
class Stack:
    cluster: Cluster
    redis: PrivateRedis
    web: Web
    env: dict
    token: str
    tenant_id: int

    def api(self, method: str, path: str, *, key: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Token {self.token}", **kwargs.pop("headers", {})}
        if key is not None:
            headers["Idempotency-Key"] = key
        return requests.request(method, self.web.base + path, headers=headers, timeout=30, **kwargs)

    def create_ticket(self, key: str, subject: str = "Printer on fire") -> requests.Response:
        body = {"subject": subject, "description": "It smokes.", "requester": {"email": "pat@example.com"}}
        return self.api("POST", "/api/v1/tickets/", key=key, json=body)

    def tickets(self) -> list[tuple[int, str]]:
        with self.cluster.connect() as conn:
            sql = "SELECT id, subject FROM tickets_ticket WHERE tenant_id = %s ORDER BY id"
            return conn.execute(sql, [self.tenant_id]).fetchall()

    def up(self) -> None:
        """Back to normal between tests: the cluster running and gunicorn answering."""
        try:
            self.cluster.scalar("SELECT 1")
        except Exception:
            self.cluster.start()
        wait_until(lambda: self.web._answers(), timeout=30, what="gunicorn")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report ends with the log of every gunicorn running: what the server said about the
    requests that failed (a flaky run's traceback is otherwise gone with the test's temporary directory)."""
    report = (yield).get_result()
    if report.failed:
        for web in Web.running:
            report.sections.append((f"gunicorn log {web.log} (its end)", web.log_tail()))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("faults")
    cluster = Cluster(port=free_port()).init().start()
    redis = PrivateRedis(free_port(), workdir).start()
    web = None
    try:
        cluster.connect("postgres").execute("CREATE DATABASE helpdesk").connection.close()
        env = app_env(cluster.url(), redis.url)
        manage(env, "migrate", "-v0")
        slug = f"acme-{uuid.uuid4().hex[:6]}"
        manage(env, "create_tenant", slug, "--name", "Acme")
        token = manage(env, "create_api_token", slug, "--role", "admin").strip().splitlines()[-1]
        tenant_id = cluster.scalar("SELECT id FROM helpdesk_tenant WHERE slug = %s", [slug])
        web = Web(env, port=free_port(), log=workdir / "gunicorn.log").start()
        yield Stack(cluster=cluster, redis=redis, web=web, env=env, token=token, tenant_id=tenant_id)
    finally:
        if web is not None:
            web.stop()
        redis.stop()
        cluster.destroy()


@pytest.fixture
def live(stack):
    stack.up()
    yield stack
    stack.up()
