"""The dispatcher's SECURITY DEFINER claims are as narrow as the sweep's: capped limits, ids only, a
bounded lease."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from helpdesk.notifications import dispatcher
from tests.notifications.conftest import webhook
from tests.notifications.helpers import deliveries, open_ticket


def _due_an_hour_ago(tenant) -> None:
    from helpdesk.notifications.models import Delivery
    from helpdesk.tenancy import tenant_context

    with tenant_context(tenant):
        assert Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1)) == 1


def _definition(signature: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef(%s::regprocedure)", [signature])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("call", "signature", "fan_out"),
    [
        # The event is left pending, so a claim that ignored its limit would take it.
        ("SELECT count(*) FROM helpdesk_claim_outbox(%s)", "helpdesk_claim_outbox(integer)", False),
        (
            "SELECT count(*) FROM helpdesk_claim_deliveries(now(), %s, now(), gen_random_uuid())",
            "helpdesk_claim_deliveries(timestamptz, integer, timestamptz, uuid)",
            True,
        ),
    ],
)
def test_every_dispatcher_claim_caps_its_limit_for_the_app_role(tenant_a, receiver, call, signature, fan_out):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    if fan_out:
        dispatcher.dispatch(budget_s=0)  # fan-out only: the event claimed, one delivery
        _due_an_hour_ago(tenant_a)
    with connection.cursor() as cursor:
        cursor.execute(call, [-5])
        assert cursor.fetchone()[0] == 0
        cursor.execute(call, [5])
        assert cursor.fetchone()[0] == 1
    assert "LEAST(GREATEST(p_limit, 0), 10000)" in _definition(signature)


def test_a_lease_taken_at_an_old_moment_still_runs_from_now(tenant_a, receiver):
    """A sweep passes its start time; after long stages that moment is minutes old. The lease must
    still end in the future, or another dispatcher could take the row and send it again."""
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch(budget_s=0)
    _due_an_hour_ago(tenant_a)
    assert dispatcher.claim_due(timezone.now() - timedelta(minutes=10), uuid.uuid4()) is not None
    [delivery] = deliveries(tenant_a)
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=dispatcher.lease_seconds() - 5)


def test_a_lease_lasts_an_hour_at_most(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch(budget_s=0)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT delivery_id, tenant_id FROM helpdesk_claim_deliveries(%s, 5, %s, %s)",
            [now, now + timedelta(days=365), uuid.uuid4()],
        )
        [(delivery_id, tenant_id)] = cursor.fetchall()
    [delivery] = deliveries(tenant_a)
    assert (delivery.pk, tenant_id) == (delivery_id, tenant_a.pk)
    assert delivery.next_attempt_at <= now + timedelta(hours=1, seconds=1)


def test_a_sweep_batch_reads_the_requesters_of_its_tenants_and_cannot_write_them(tenant_a, tenant_b):
    from django.db import ProgrammingError, transaction

    from helpdesk.tenancy import tenant_batch, tenant_context
    from tickets.models import Customer

    for tenant, email in ((tenant_a, "a@x.test"), (tenant_b, "b@x.test")):
        with tenant_context(tenant):
            Customer.objects.create(tenant=tenant, email=email)
    with transaction.atomic(), tenant_batch([tenant_a.pk]):
        assert list(Customer.unscoped.values_list("email", flat=True)) == ["a@x.test"]
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            Customer.unscoped.create(tenant=tenant_a, email="smuggled@x.test")
        assert Customer.unscoped.filter(email="a@x.test").update(name="changed") == 0  # invisible to UPDATE
