"""Two sweeps at once, on two real database connections, never fire the same timer twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import workflows
from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context
from slas import services as slas
from slas.models import SlaTimer, TimerStatus
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS_PER_TENANT = 15


@pytest.fixture
def due_tickets(db):
    """Back-dated urgent tickets in two tenants: every clock is already past its deadline."""
    tenants = [workflows.tenant_bootstrap(slug=s, name=s) for s in ("acme", "globex")]
    created = timezone.now() - timedelta(days=3)
    for tenant in tenants:
        with tenant_context(tenant):
            for n in range(TICKETS_PER_TENANT):
                workflows.ticket_open(
                    tenant=tenant,
                    actor=None,
                    subject=f"t{n}",
                    description="d",
                    requester_email=f"c{n}@x.test",
                    priority="urgent",
                    created_at=created,
                )
    return tenants


def _in_thread(target, results, key):
    def run():
        try:
            results[key] = target()
        finally:
            connection.close()

    return threading.Thread(target=run)


def test_two_claims_at_once_take_disjoint_rows(due_tickets):
    first_holds = threading.Event()
    second_done = threading.Event()
    results: dict = {}

    def first():
        with transaction.atomic():
            claimed = slas.timers_claim_due(now=timezone.now(), limit=10)
            first_holds.set()
            second_done.wait(timeout=30)  # keep the locks while the other sweep claims
            return claimed

    def second():
        first_holds.wait(timeout=30)
        with transaction.atomic():
            claimed = slas.timers_claim_due(now=timezone.now(), limit=1000)
        second_done.set()
        return claimed

    threads = [_in_thread(first, results, "a"), _in_thread(second, results, "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    a = {t for ids in results["a"].values() for t in ids}
    b = {t for ids in results["b"].values() for t in ids}
    assert len(a) == 10
    assert a.isdisjoint(b)
    assert len(a | b) == 2 * TICKETS_PER_TENANT * 2  # first_response + resolution per ticket


def test_two_full_sweeps_at_once_fire_each_breach_once(due_tickets):
    results: dict = {}
    threads = [_in_thread(workflows.sweep, results, n) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    expected = 2 * TICKETS_PER_TENANT * 2
    # A clock whose ticket the other sweep held is left due, not waited for: a later sweep takes it.
    stragglers = workflows.sweep()
    assert results[0].breached + results[1].breached + stragglers.breached == expected
    for tenant in due_tickets:
        with tenant_context(tenant):
            assert SlaTimer.objects.filter(status=TimerStatus.BREACHED).count() == TICKETS_PER_TENANT * 2
            assert OutboxEvent.objects.filter(type="sla.breached").count() == TICKETS_PER_TENANT * 2
            assert TicketEvent.objects.filter(kind="sla_breached").count() == TICKETS_PER_TENANT * 2


def _breached(tenant) -> int:
    with tenant_context(tenant):
        return SlaTimer.objects.filter(status=TimerStatus.BREACHED).count()


@pytest.mark.django_db(transaction=False)  # one connection; the injected trigger goes with the rollback
def test_a_tenant_whose_clocks_fail_is_rolled_back_alone(due_tickets, inject_db_failure):
    """The SLA stage runs a whole batch in one savepoint; when it fails, it redoes the batch tenant by
    tenant, so one tenant's failure costs only that tenant its turn."""
    failing, healthy = due_tickets
    remove = inject_db_failure("tickets_ticketevent", failing.pk)
    first = workflows.sweep()
    assert first.failed_tenants >= 1
    assert _breached(failing) == 0 and _breached(healthy) == TICKETS_PER_TENANT * 2
    with tenant_context(failing):
        assert not TicketEvent.objects.filter(kind="sla_breached").exists()
    remove()
    second = workflows.sweep()
    assert second.breached == TICKETS_PER_TENANT * 2
    assert _breached(failing) == TICKETS_PER_TENANT * 2


ESCALATIONS_PER_TENANT = 5
SUMMARY = {name: "x" for name in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}


@pytest.fixture
def silent_escalations(db):
    """High-stakes escalations (data loss) opened 2 h 50 min ago in two tenants, acknowledged at once, and
    never an update since: on the 24/7 urgent policy, two hourly deadlines passed and the third period is
    at 83 %, past its 75 % warning."""
    from escalation import services as escalations
    from helpdesk.services import tenant_create
    from slas import defaults

    opened = timezone.now() - timedelta(hours=2, minutes=50)
    tenants = [tenant_create(slug=s, name=s) for s in ("acme", "globex")]
    for tenant in tenants:
        with tenant_context(tenant):
            defaults.install(tenant=tenant)
            for n in range(ESCALATIONS_PER_TENANT):
                ticket = workflows.ticket_open(
                    tenant=tenant,
                    actor=None,
                    subject=f"t{n}",
                    description="d",
                    requester_email=f"c{n}@x.test",
                    priority="urgent",
                    category="data_loss",
                    created_at=opened,
                )
                escalation = escalations.escalation_create(
                    ticket=ticket,
                    actor=None,
                    kind="functional",
                    trigger="manual",
                    summary_fields=SUMMARY,
                    target_tier=2,
                    at=opened,
                )
                escalations.escalation_acknowledge(escalation=escalation, actor=None, at=opened + timedelta(minutes=1))
    return tenants, opened


def test_two_full_sweeps_at_once_count_each_missed_update_and_remind_once(silent_escalations):
    tenants, opened = silent_escalations
    results: dict = {}
    threads = [_in_thread(workflows.sweep, results, n) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    workflows.sweep()  # the stragglers a held ticket left due
    workflows.sweep()  # and once more: nothing is left to count
    for tenant in tenants:
        with tenant_context(tenant):
            clocks = SlaTimer.objects.filter(metric="customer_update")
            assert [(c.misses, c.started_at) for c in clocks] == [(2, opened + timedelta(hours=2))] * (
                ESCALATIONS_PER_TENANT
            )
            misses = OutboxEvent.objects.filter(type="sla.breached", payload__metric="customer_update")
            assert misses.count() == 2 * ESCALATIONS_PER_TENANT
            audited = TicketEvent.objects.filter(kind="sla_breached", after__metric="customer_update")
            assert audited.count() == 2 * ESCALATIONS_PER_TENANT
            due_soon = OutboxEvent.objects.filter(type="owner.reminder", payload__reminder="due_soon")
            assert due_soon.count() == ESCALATIONS_PER_TENANT
            assert {r.payload["period_started_at"] for r in due_soon} == {(opened + timedelta(hours=2)).isoformat()}
