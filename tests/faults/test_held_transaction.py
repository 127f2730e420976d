"""A transaction held open elsewhere (a report, a forgotten psql session, a long pg_dump) while the sweep
works: it holds back VACUUM's horizon, so every row the sweep rewrites leaves a dead version nobody can
remove yet. The sweep must stay fast regardless (its due indexes are partial: rows that are no longer due
leave them), the dead versions are bounded by the rows it touched, and once the transaction ends VACUUM
takes them all. The issue's five minutes are scaled down to the seconds the test needs: what matters is
that the transaction is older than every write, not how old. `FAULTS_HOLD_S=300` holds it the full five
minutes, sweeping every 5 s as beat does meanwhile (docs/SCALING.md records that run)."""

from __future__ import annotations

import os
import re
import time

import psycopg
import pytest
from django.db import connection

from helpdesk import workflows
from tests.integration.test_worker import _database_url
from tests.notifications.helpers import open_ticket

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

TABLES = ("slas_slatimer", "helpdesk_outboxevent")
ROUNDS, TICKETS = 3, 20
HOLD_S = float(os.environ.get("FAULTS_HOLD_S", "0"))


def _vacuum(owner: psycopg.Connection, table: str) -> tuple[int, int]:
    """(dead versions removed, dead versions not yet removable), from VACUUM VERBOSE's own report."""
    notices: list[str] = []
    owner.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    owner.execute(f"VACUUM (VERBOSE) {table}")
    owner._notice_handlers.clear()
    text = "\n".join(notices)
    removed = re.search(r"tuples: (\d+) removed", text)
    kept = re.search(r"(\d+) are dead but not yet removable", text)
    assert removed and kept, text
    return int(removed.group(1)), int(kept.group(1))


def _make_due(owner: psycopg.Connection, tenant_id: int) -> int:
    return owner.execute(
        "UPDATE slas_slatimer SET due_at = now() - interval '1 minute', next_check_at = now() - interval '1 minute' "
        "WHERE tenant_id = %s AND status = 'running' AND escalation_id = 0",
        [tenant_id],
    ).rowcount


def test_the_sweep_stays_fast_and_vacuum_catches_up_after_a_transaction_held_open():
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme")  # its default SLA policies start clocks
    url = _database_url()
    owner = psycopg.connect(url, autocommit=True)
    held = psycopg.connect(url)  # not autocommit: its snapshot lives until it ends
    try:
        held.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        held.execute("SELECT count(*) FROM slas_slatimer").fetchone()  # the snapshot is taken here
        opened = time.monotonic()
        touched = 0
        for round_ in range(ROUNDS):
            for i in range(TICKETS):
                open_ticket(tenant, subject=f"round {round_} ticket {i}")
            touched += _make_due(owner, tenant.pk)
            report = workflows.sweep()
            assert report.breached > 0
        idle = [workflows.sweep() for _ in range(5)]
        while time.monotonic() - opened < HOLD_S:  # beat's sweeps go on while the transaction stays open
            time.sleep(5)
            idle.append(workflows.sweep())
        assert all(r.claimed == 0 for r in idle)
        idle_ms = sorted(r.seconds * 1000 for r in idle)[len(idle) // 2]
        during = {table: _vacuum(owner, table) for table in TABLES}
        held_for = time.monotonic() - opened
        held.rollback()
        after = {table: _vacuum(owner, table) for table in TABLES}
    finally:
        held.close()
        owner.close()
        connection.close()
    # While it was held: nothing removable, and the dead versions bounded by what the sweeps rewrote (a
    # clock is rewritten when it fires; an outbox row when it is dispatched).
    assert during["slas_slatimer"][1] > 0 and during["slas_slatimer"][1] <= 3 * touched
    assert during["helpdesk_outboxevent"][1] > 0
    # Ended: VACUUM takes every one of them.
    assert all(kept == 0 for _, kept in after.values())
    assert after["slas_slatimer"][0] >= during["slas_slatimer"][1]
    print(
        f"\nheld transaction ({held_for:.0f} s, {touched} clocks fired under it): idle sweep median {idle_ms:.1f} ms; "
        f"dead but not removable: timers {during['slas_slatimer'][1]}, outbox {during['helpdesk_outboxevent'][1]}; "
        f"after it ended VACUUM removed {after['slas_slatimer'][0]} and {after['helpdesk_outboxevent'][0]}"
    )
