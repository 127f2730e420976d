"""Fan-out across tenants (issue 17): the events of tenants with no webhook or channel make no deliveries, so a
batch marks them dispatched in one statement instead of visiting each tenant; the others are fanned out as
before, in their own tenant."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import workflows
from helpdesk.models import OutboxEvent
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import DeliveryStatus
from helpdesk.notifications.senders import THREAD_MAIL
from helpdesk.outbox import outbox_emit
from helpdesk.tenancy import tenant_context
from tests.notifications.conftest import webhook
from tests.notifications.helpers import deliveries, open_ticket


def _events(tenant) -> list[tuple[str, bool]]:
    with tenant_context(tenant):
        return sorted((e.type, e.dispatched_at is not None) for e in OutboxEvent.objects.all())


def test_tenants_without_destinations_are_marked_dispatched_and_the_others_fanned_out(tenant_a, tenant_b, receiver):
    hook = webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    open_ticket(tenant_b)
    open_ticket(tenant_b, subject="Second")
    assert all(not done for _, done in _events(tenant_b))
    report = dispatcher.dispatch()
    assert report.events == 3 and report.delivered == 1
    [delivery] = deliveries(tenant_a)
    assert delivery.webhook_id == hook.pk and delivery.status == DeliveryStatus.DELIVERED
    assert [r.json()["event"] for r in receiver.requests] == ["ticket.created"]
    assert deliveries(tenant_b) == []
    assert _events(tenant_b) == [("ticket.created", True), ("ticket.created", True)]
    assert _events(tenant_a) == [("ticket.created", True)]


def test_an_account_mail_is_fanned_out_in_a_tenant_without_channels(tenant_b):
    with tenant_context(tenant_b):
        outbox_emit(tenant_id=tenant_b.pk, type=THREAD_MAIL, dedupe_key="m1", payload={"to": "pat@example.com"})
    dispatcher.fan_out_pending(timezone.now(), dispatcher.DispatchReport())
    [delivery] = deliveries(tenant_b)
    assert delivery.destination == "direct:pat@example.com"


def _fan_out_statements(tenants) -> int:
    for tenant in tenants:
        open_ticket(tenant, subject=f"Storm at {tenant.slug}")
    with CaptureQueriesContext(connection) as captured:
        report = dispatcher.DispatchReport()
        dispatcher.fan_out_pending(timezone.now(), report)
    assert report.events == len(tenants)
    for tenant in tenants:
        assert _events(tenant) == [("ticket.created", True)]
    return len(captured.captured_queries)


def test_the_fan_out_of_silent_tenants_costs_the_same_statements_for_one_or_five(db):
    tenants = [workflows.tenant_bootstrap(slug=f"quiet{i}", name=f"Quiet {i}") for i in range(6)]
    assert _fan_out_statements(tenants[:1]) == _fan_out_statements(tenants[1:])
