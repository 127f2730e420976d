"""The outbox is written with its cause, fanned out once per destination, delivered once, retried with
backoff through every kind of receiver fault, and dead-lettered after the retry window."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from helpdesk.models import OutboxEvent
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import DeliveryStatus
from helpdesk.tenancy import tenant_context
from tests.notifications.conftest import Reply, webhook
from tests.notifications.helpers import attempts, deliveries, open_ticket
from tickets.models import Ticket


class Boom(Exception):
    pass


def test_it_writes_no_outbox_row_and_sends_nothing_when_the_change_rolls_back(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    with pytest.raises(Boom), transaction.atomic():
        open_ticket(tenant_a, subject="Never happened")
        raise Boom
    report = dispatcher.dispatch()
    with tenant_context(tenant_a):
        assert not Ticket.objects.exists()
        assert not OutboxEvent.objects.exists()
    assert deliveries(tenant_a) == []
    assert receiver.requests == []
    assert report.events == 0 and report.attempted == 0


def test_it_writes_the_outbox_row_in_the_transaction_of_its_cause(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    ticket = open_ticket(tenant_a, subject="Happened")
    with tenant_context(tenant_a):
        event = OutboxEvent.objects.get(type="ticket.created")
    assert event.payload["ticket"] == ticket.pk and event.dispatched_at is None
    report = dispatcher.dispatch()
    assert (report.events, report.attempted, report.delivered) == (1, 1, 1)
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.last_latency_ms is not None
    [attempt] = attempts(tenant_a, delivery)
    assert attempt.ok and attempt.status_code == 200 and attempt.number == 1
    assert [r.json()["id"] for r in receiver.requests] == [str(delivery.delivery_id)]


def test_dispatching_again_sends_nothing_twice(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch()
    with tenant_context(tenant_a):
        OutboxEvent.objects.update(dispatched_at=None)  # as if the fan-out ran again for the same event
    second = dispatcher.dispatch()
    assert second.events == 1 and second.attempted == 0
    assert len(receiver.requests) == 1
    assert len(deliveries(tenant_a)) == 1


def test_one_delivery_per_subscription_and_only_for_the_events_it_chose(tenant_a, tenant_b, receiver):
    first = webhook(tenant_a, receiver.url + "/one", events=["ticket.created"])
    second = webhook(tenant_a, receiver.url + "/two", events=["ticket.created", "ticket.updated"])
    webhook(tenant_a, receiver.url + "/three", events=["sla.breached"])
    webhook(tenant_b, receiver.url + "/other-tenant", events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch()
    assert sorted(r.path for r in receiver.requests) == ["/one", "/two"]
    assert sorted(d.webhook_id for d in deliveries(tenant_a)) == sorted([first.pk, second.pk])


def test_a_500_is_retried_with_backoff_and_then_delivered(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    receiver.reply(Reply(500))
    open_ticket(tenant_a)
    before = timezone.now()
    report = dispatcher.dispatch()
    assert report.retrying == 1
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    # First backoff: 30 s with jitter (15..30 s).
    assert before + timedelta(seconds=14) < delivery.next_attempt_at <= timezone.now() + timedelta(seconds=31)
    assert dispatcher.dispatch().attempted == 0  # not due yet: nothing is sent early
    dispatcher.dispatch(now=delivery.next_attempt_at)
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert [(a.number, a.status_code, a.ok) for a in attempts(tenant_a, delivery)] == [(1, 500, False), (2, 200, True)]
    ids = {r.headers["X-Helpdesk-Delivery"] for r in receiver.requests}
    assert len(receiver.requests) == 2 and ids == {str(delivery.delivery_id)}


def test_a_429_waits_at_least_its_retry_after(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    receiver.reply(Reply(429, headers={"Retry-After": "600"}))
    open_ticket(tenant_a)
    dispatcher.dispatch()
    [delivery] = deliveries(tenant_a)
    assert delivery.last_status_code == 429
    assert delivery.next_attempt_at >= timezone.now() + timedelta(seconds=590)
    assert dispatcher.dispatch(now=timezone.now() + timedelta(seconds=300)).attempted == 0
    dispatcher.dispatch(now=delivery.next_attempt_at)
    assert deliveries(tenant_a)[0].status == DeliveryStatus.DELIVERED


@override_settings(WEBHOOK_TIMEOUT_S=1)
def test_a_receiver_that_times_out_is_retried(tenant_a, receiver):
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    receiver.reply(Reply(200, delay=3))
    open_ticket(tenant_a)
    dispatcher.dispatch()
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None and "timed out" in delivery.last_error.lower()
    assert 900 <= delivery.last_latency_ms < 2900


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_receiver_that_is_down_is_retried(tenant_a):
    webhook(tenant_a, f"http://127.0.0.1:{_closed_port()}/hook", events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch()
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert "refused" in delivery.last_error.lower() or "NewConnectionError" in delivery.last_error


def test_a_name_that_does_not_resolve_is_retried(tenant_a):
    webhook(tenant_a, "http://nonexistent.invalid/hook", events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch()
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_error.startswith("DNS:")


def test_retries_go_on_for_72_hours_then_the_delivery_is_dead_lettered(tenant_a):
    webhook(tenant_a, f"http://127.0.0.1:{_closed_port()}/hook", events=["ticket.created"])
    open_ticket(tenant_a)
    start = timezone.now()
    now, gaps = start, []
    for _ in range(60):
        dispatcher.dispatch(now=now)
        [delivery] = deliveries(tenant_a)
        if delivery.status != DeliveryStatus.PENDING:
            break
        gaps.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
    assert delivery.status == DeliveryStatus.DEAD and delivery.next_attempt_at is None
    assert now - start >= timedelta(hours=72)
    # Exponential with jitter: each gap within [d/2, d] of 30 s * 2^n, capped at 6 h.
    for n, gap in enumerate(gaps[:8]):
        nominal = 30 * 2**n
        assert nominal / 2 - 1 <= gap.total_seconds() <= nominal + 1
    assert max(gaps) <= timedelta(hours=6)
    assert delivery.attempts == len(attempts(tenant_a, delivery)) == len(gaps) + 1


def test_a_deactivated_subscription_fails_its_pending_deliveries_without_sending(tenant_a, receiver):
    subscription = webhook(tenant_a, receiver.url, events=["ticket.created"])
    receiver.reply(Reply(503))
    open_ticket(tenant_a)
    dispatcher.dispatch()
    with tenant_context(tenant_a):
        subscription.active = False
        subscription.save()
    dispatcher.dispatch(now=timezone.now() + timedelta(hours=1))
    [delivery] = deliveries(tenant_a)
    assert delivery.status == DeliveryStatus.FAILED and "deleted or deactivated" in delivery.last_error
    assert len(receiver.requests) == 1


def _race(target, count=2) -> tuple[list, list]:
    barrier, results, errors = threading.Barrier(count), [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # surfaced by the caller
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own real database connection

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


def _tenant_with_tickets(receiver, count: int):
    from helpdesk.services import tenant_create

    tenant = tenant_create(slug="acme", name="Acme")
    webhook(tenant, receiver.url, events=["ticket.created"])
    for n in range(count):
        open_ticket(tenant, subject=f"ticket {n}")
    receiver.reply(*[Reply(200, delay=0.05) for _ in range(count)])
    return tenant


def _assert_each_delivered_once(tenant, receiver, count: int):
    ids = [r.headers["X-Helpdesk-Delivery"] for r in receiver.requests]
    assert len(ids) == count and len(set(ids)) == count
    rows = deliveries(tenant)
    assert len(rows) == count and {d.status for d in rows} == {DeliveryStatus.DELIVERED}
    assert all(d.attempts == 1 and len(attempts(tenant, d)) == 1 for d in rows)
    assert {str(d.delivery_id) for d in rows} == set(ids)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_dispatchers_fan_out_and_deliver_each_event_exactly_once(receiver):
    tenant = _tenant_with_tickets(receiver, 16)
    reports, errors = _race(dispatcher.dispatch)
    assert errors == []
    assert sum(r.events for r in reports) == 16 and sum(r.attempted for r in reports) == 16
    _assert_each_delivered_once(tenant, receiver, 16)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_dispatchers_split_the_due_deliveries_between_them(receiver):
    tenant = _tenant_with_tickets(receiver, 16)
    dispatcher.dispatch(budget_s=0)  # fan-out only: 16 deliveries due
    reports, errors = _race(dispatcher.dispatch)
    assert errors == []
    assert sorted(r.attempted > 0 for r in reports) == [True, True]  # both really worked, side by side
    assert sum(r.attempted for r in reports) == 16
    _assert_each_delivered_once(tenant, receiver, 16)


def test_a_breach_found_by_the_sweep_is_delivered_by_the_same_sweep(tenant_a, receiver):
    from helpdesk import workflows
    from slas import defaults as sla_defaults

    with tenant_context(tenant_a):
        sla_defaults.install(tenant=tenant_a)
    webhook(tenant_a, receiver.url, events=["sla.breached"])
    ticket = open_ticket(tenant_a, subject="Nobody answered", priority="urgent")
    report = workflows.sweep(now=timezone.now() + timedelta(days=30))
    assert report.breached >= 1 and report.notifications["delivered"] == report.breached
    documents = [r.json() for r in receiver.requests]
    assert {d["event"] for d in documents} == {"sla.breached"}
    data = documents[0]["data"]
    assert data["ticket"] == ticket.pk and data["ticket_context"]["subject"] == "Nobody answered"
    # The SLA stage fires across tenants in one batch; the requester is read there too (read-only).
    assert data["ticket_context"]["customer_email"] == "pat@example.com"
    assert data["due_at"] and data["metric"] in {"first_response", "resolution"}


@pytest.mark.django_db(transaction=True)
def test_the_commit_of_the_cause_queues_the_dispatch_that_delivers_it(receiver, celery_eager):
    from helpdesk.services import tenant_create

    tenant = tenant_create(slug="acme", name="Acme")
    webhook(tenant, receiver.url, events=["ticket.created"])
    open_ticket(tenant, subject="Delivered on commit")  # no dispatcher call: the on-commit task sends it
    [request] = receiver.requests
    assert request.json()["data"]["ticket_context"]["subject"] == "Delivered on commit"
    assert deliveries(tenant)[0].status == DeliveryStatus.DELIVERED


def test_one_dispatch_is_queued_per_transaction_however_many_rows_it_writes(
    tenant_a, django_capture_on_commit_callbacks
):
    from helpdesk.outbox import _queue_dispatch

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        open_ticket(tenant_a, subject="one")
        open_ticket(tenant_a, subject="two")
    assert [c for c in callbacks if c is _queue_dispatch] == [_queue_dispatch]
