"""The fault matrix, with real processes against a PostgreSQL cluster of the test's own: Redis restarted
empty, a gunicorn worker SIGKILLed mid-request, a Celery worker SIGKILLed mid-sweep, two beats with two
workers. Each: nothing lost, nothing doubled, and the time to recover printed (docs/SCALING.md records it).
(A worker SIGKILLed mid-delivery: tests/notifications/test_worker_faults.py.)"""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest
import requests

from tests.faults.processes import Celery, Receiver, wait_until

pytestmark = pytest.mark.faults


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _tickets(live, prefix: str, n: int) -> list[int]:
    ids = []
    for i in range(n):
        response = live.create_ticket(f"{prefix}-{i}", subject=f"{prefix} {i}")
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _make_due(live, ticket_ids: list[int]) -> list[int]:
    """Their running ticket clocks' deadlines moved a minute into the past: due work for the next sweep.
    (An escalation's clocks are left alone: a breach there climbs the ladder, which settles them otherwise.)"""
    with live.cluster.connect() as conn:
        rows = conn.execute(
            "UPDATE slas_slatimer SET due_at = now() - interval '1 minute', next_check_at = now() - interval "
            "'1 minute' WHERE status = 'running' AND escalation_id = 0 AND ticket_id = ANY(%s) RETURNING id",
            [ticket_ids],
        ).fetchall()
    assert rows
    return [row[0] for row in rows]


def _assert_breached_once(live, timer_ids: list[int], ticket_ids: list[int]) -> None:
    with live.cluster.connect() as conn:
        breached = conn.execute(
            "SELECT count(*) FROM slas_slatimer WHERE id = ANY(%s) AND status = 'breached'", [timer_ids]
        ).fetchone()[0]
        events = conn.execute(
            "SELECT ticket_id, after->>'metric', count(*) FROM tickets_ticketevent "
            "WHERE kind = 'sla_breached' AND after->>'escalation' IS NULL AND ticket_id = ANY(%s) GROUP BY 1, 2",
            [ticket_ids],
        ).fetchall()
        outbox = conn.execute(
            "SELECT count(*), count(DISTINCT payload->>'ticket' || ':' || (payload->>'metric')) "
            "FROM helpdesk_outboxevent WHERE type = 'sla.breached' AND (payload->>'escalation') IS NULL "
            "AND (payload->>'ticket')::bigint = ANY(%s)",
            [ticket_ids],
        ).fetchone()
    assert breached == len(timer_ids)  # 0 lost
    assert len(events) == len(timer_ids) and {n for _, _, n in events} == {1}  # 0 doubled
    assert outbox == (len(timer_ids), len(timer_ids))


def test_redis_restarted_empty_loses_no_notification(live, receiver, tmp_path):
    """Redis gone: /healthz names it, the API still writes (rate limits fail open, the dispatch task is
    queued robustly after commit and lost). Redis back, empty: the worker reconnects, the next sweep
    delivers every pending event, each once."""
    hook = live.api("POST", "/api/v1/webhooks/", json={"url": receiver.url, "events": ["ticket.created"],
                                                         "secret": "s" * 32})  # fmt: skip
    assert hook.status_code == 201, hook.text
    worker = Celery.worker(live.env, tmp_path / "worker.log").start()
    try:
        live.redis.stop()
        health = requests.get(live.web.base + "/healthz", timeout=30)
        assert health.status_code == 503 and health.json()["unavailable"] == ["redis"]
        ids = _tickets(live, "redis-down", 3)
        down_at = time.monotonic()
        live.redis.start()
        worker.wait_for("Connected to", timeout=60, count=2)  # the worker reconnected to the new, empty Redis
        reconnected = time.monotonic() - down_at
        from helpdesk.celery import app
        from tests.notifications.worker import broker

        with broker(live.redis.url):
            app.send_task("helpdesk.sweep")
        wait_until(lambda: len(receiver.seen) >= 3, timeout=60, what="three deliveries")
        time.sleep(1)  # anything doubled has had its chance
    finally:
        worker.stop()
        live.api("DELETE", f"/api/v1/webhooks/{hook.json()['id']}/")
    assert len(receiver.seen) == 3 and len({delivery for delivery, _ in receiver.seen}) == 3
    assert (
        live.cluster.scalar(
            "SELECT count(*) FROM helpdesk_outboxevent "
            "WHERE dispatched_at IS NULL AND (payload->>'ticket')::bigint = ANY(%s)",
            [ids],
        )
        == 0
    )
    print(f"\nredis restarted empty: worker reconnected {reconnected:.1f} s after the restart; 3 of 3 delivered once")


def test_a_gunicorn_worker_killed_mid_request_commits_nothing_and_the_retry_creates_once(live):
    """The request waits on a lock inside its transaction when its worker is SIGKILLed: the client sees the
    connection drop, PostgreSQL rolls the orphaned transaction back, gunicorn starts a new worker, and the
    retry with the same key creates the ticket once."""
    [victim] = live.web.worker_pids()
    locker = psycopg.connect(live.cluster.url(), connect_timeout=5)
    outcome: dict = {}

    def post():
        try:
            outcome["response"] = live.create_ticket("key-killed", subject="killed mid-request")
        except requests.RequestException as exc:
            outcome["error"] = exc

    try:
        locker.execute("LOCK TABLE tickets_ticket IN ACCESS EXCLUSIVE MODE")
        client = threading.Thread(target=post)
        client.start()
        wait_until(
            lambda: live.cluster.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'helpdesk' AND wait_event_type = 'Lock'"
            ),
            timeout=30,
            what="the request waiting on the lock",
        )
        import os
        import signal

        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        client.join(timeout=30)
    finally:
        locker.rollback()
        locker.close()
    assert "error" in outcome, outcome  # the connection dropped: no answer, so the client retries
    wait_until(lambda: live.web.worker_pids() and victim not in live.web.worker_pids(), timeout=60, what="a new worker")
    retried = wait_until(
        lambda: (r := live.create_ticket("key-killed", subject="killed mid-request")).status_code == 201 and r,
        timeout=60,
        what="the retry",
    )
    recovered = time.monotonic() - killed_at
    assert "Idempotent-Replayed" not in retried.headers  # the killed request had committed nothing
    assert [s for _, s in live.tickets()].count("killed mid-request") == 1
    print(f"\ngunicorn worker SIGKILLed mid-request: retry answered 201 {recovered:.1f} s after the kill")


def test_a_celery_worker_killed_mid_sweep_loses_and_doubles_nothing(live, tmp_path):
    """The sweep has claimed due clocks and waits to write their events when its worker is SIGKILLed: its
    transaction is rolled back, the claims with it, and the next worker's sweep fires every clock once."""
    ticket_ids = _tickets(live, "mid-sweep", 4)
    timer_ids = _make_due(live, ticket_ids)
    from helpdesk.celery import app
    from tests.notifications.worker import broker

    locker = psycopg.connect(live.cluster.url(), connect_timeout=5)
    first = Celery.worker(live.env, tmp_path / "worker.log").start()
    try:
        locker.execute("LOCK TABLE tickets_ticketevent IN EXCLUSIVE MODE")  # reads go on, the sweep's INSERT waits
        with broker(live.redis.url):
            app.send_task("helpdesk.sweep")
        wait_until(
            lambda: live.cluster.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'helpdesk' AND wait_event_type = 'Lock' "
                "AND query ILIKE '%%ticketevent%%'"
            ),
            timeout=60,
            what="the sweep blocked mid-way",
        )
        killed_at = time.monotonic()
        first.kill()
    finally:
        locker.rollback()
        locker.close()
    # The sweep's own line: the dispatches the web queued for the tickets above run on this worker too.
    assert "Task helpdesk.sweep" in first.text() and not re.search(r"helpdesk\.sweep\[[^]]+\] succeeded", first.text())
    wait_until(
        lambda: (
            live.cluster.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'helpdesk' AND query ILIKE '%%ticketevent%%' "
                "AND pid <> pg_backend_pid()"
            )
            == 0
        ),
        timeout=60,
        what="the orphaned transaction gone",
    )
    assert live.cluster.scalar("SELECT count(*) FROM slas_slatimer WHERE id = ANY(%s) AND status = 'breached'",
                               [timer_ids]) == 0  # fmt: skip
    second = Celery.worker(live.env, tmp_path / "worker.log", name="w2").start()
    try:
        with broker(live.redis.url):
            app.send_task("helpdesk.sweep")
        second.wait_for("sweep done", timeout=60)
    finally:
        second.stop()
    recovered = time.monotonic() - killed_at
    _assert_breached_once(live, timer_ids, ticket_ids)
    print(f"\ncelery worker SIGKILLed mid-sweep: {len(timer_ids)} clocks fired once, {recovered:.1f} s after the kill")


def test_two_beats_and_two_workers_fire_everything_once(live, tmp_path):
    """A second beat started by mistake: twice the sweeps, on two workers at once; every due clock still
    fires once (the claims: SKIP LOCKED, then a status change under the lock)."""
    ticket_ids = _tickets(live, "two-beats", 6)
    env = {**live.env, "SWEEP_INTERVAL_S": "1"}
    processes = [
        Celery.worker(env, tmp_path / "w1.log", name="w1"),
        Celery.worker(env, tmp_path / "w2.log", name="w2"),
    ]
    beats = [Celery.beat(env, tmp_path / f"beat{i}.log", tmp_path / f"beat{i}.schedule") for i in (1, 2)]
    try:
        for process in processes:
            process.start()
        for beat in beats:
            beat.start(ready=None)
        for beat in beats:
            beat.wait_for("Sending due task sweep", timeout=60, count=2)
        timer_ids = _make_due(live, ticket_ids)
        due_at = time.monotonic()
        wait_until(
            lambda: (
                live.cluster.scalar(
                    "SELECT count(*) FROM slas_slatimer WHERE id = ANY(%s) AND status = 'breached'", [timer_ids]
                )
                == len(timer_ids)
            ),
            timeout=60,
            what="every clock breached",
        )
        fired_in = time.monotonic() - due_at
        time.sleep(4)  # several more sweeps from both beats on both workers
        sweeps = sum(p.text().count("sweep done") for p in processes)
    finally:
        for process in beats + processes:
            process.stop()
    _assert_breached_once(live, timer_ids, ticket_ids)
    assert all("Sending due task sweep" in beat.text() for beat in beats)
    print(f"\ntwo beats, two workers: {sweeps} sweeps; {len(timer_ids)} clocks fired once, {fired_in:.1f} s after due")
