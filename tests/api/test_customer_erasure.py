"""DELETE /api/v1/customers/{id}/ (API.md, "Customers' personal data"): erasure on request. Afterwards no row
of the tenant holds the customer's address or a phrase of theirs; tickets, clocks, escalations and the audit
trail's structure are unchanged; the erasure is audited without the erased values. Admins only (403 below),
another tenant's customer is a 404 and stays as it was."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from escalation.models import Escalation, RuleFiring
from helpdesk.models import AuditEvent, IdempotencyKey, Role
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import ChannelKind, Delivery, DeliveryStatus, NotificationChannel
from helpdesk.notifications.services import ERR_RECIPIENT_ERASED
from helpdesk.redaction import TOMBSTONE_NAME, TOMBSTONE_TEXT
from helpdesk.services import api_token_create, membership_create
from helpdesk.tenancy import TenantModel, tenant_context
from slas.models import SlaTimer
from tests.api.helpers import error_of
from tickets.models import Customer, Ticket, TicketEvent

EMAIL = "pat.quill@example.com"
PHONE = "+44 20 7946 0958"
PHRASE = "my xylophonist invoice was charged twice"
DESCRIPTION = f"Hello, {PHRASE} last Tuesday. I would like a refund please."


def _client(tenant, role) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def desk(bootstrapped_api):
    """A customer with a history: a ticket opened with an Idempotency-Key (its response stored), a routine
    billing escalation (drafted summary, a milestone message and e-mail to the customer), a reply and a
    note quoting them, an attempt, an e-mail channel with delivered and pending mail, an admin log entry."""
    api, tenant = bootstrapped_api, bootstrapped_api.tenant
    with tenant_context(tenant):
        channel = NotificationChannel(tenant=tenant, name="Mail", kind=ChannelKind.EMAIL)
        channel.save()
    sam = membership_create(
        tenant=tenant, username="sam", email="sam@initech.test", role=Role.AGENT, skills=["billing"]
    )
    customer = api.post("/api/v1/customers/", {"email": EMAIL, "name": "Pat Quill", "phone": PHONE}, format="json")
    assert customer.status_code == 201, customer.content
    body = {"subject": "Pat's xylophonist invoice", "description": DESCRIPTION, "requester": {"email": EMAIL}}
    ticket = api.post("/api/v1/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="erase-me-1").json()
    path = f"/api/v1/tickets/{ticket['id']}"
    api.post(
        f"{path}/messages/", {"body": f"Also: {PHRASE}, call me on {PHONE}.", "author_type": "customer"}, format="json"
    )
    quote = f"Hi Pat, sorry to hear that {PHRASE}. We are on it ({EMAIL})."
    api.post(f"{path}/messages/", {"body": quote, "author_type": "agent"}, format="json")
    api.post(
        f"{path}/messages/", {"body": f"Pat Quill is a long-time customer: {PHRASE}.", "internal": True}, format="json"
    )
    api.post(
        f"{path}/attempts/",
        {"outcome": "failed", "tier": 1, "note": "Asked Pat for the invoice number."},
        format="json",
    )
    dispatcher.dispatch()  # the escalation's e-mail to the customer is delivered
    with tenant_context(tenant):
        escalation = Escalation.objects.get(ticket_id=ticket["id"])
        LogEntry.objects.create(
            user_id=sam.user_id,
            content_type=ContentType.objects.get_for_model(Customer),
            object_id=str(customer.json()["id"]),
            object_repr=f"Pat Quill <{EMAIL}>",
            action_flag=CHANGE,
            change_message="[]",
        )
    resolved = api.post(f"/api/v1/escalations/{escalation.pk}/resolve/", {"resolution": "Refunded Pat."}, format="json")
    assert resolved.status_code == 200, resolved.content
    report = dispatcher.DispatchReport()
    dispatcher.fan_out_pending(timezone.now(), report)  # the "resolved" e-mail: fanned out, not sent yet
    api.customer_id, api.ticket_id = customer.json()["id"], ticket["id"]
    return api


def _state(tenant) -> dict:
    with tenant_context(tenant):
        return {
            "tickets": list(
                Ticket.objects.order_by("pk").values_list("pk", "status", "priority", "tier", "escalation_count")
            ),
            "clocks": list(
                SlaTimer.objects.order_by("pk").values_list("pk", "metric", "status", "due_at", "breached_at")
            ),
            "escalations": list(Escalation.objects.order_by("pk").values_list("pk", "status", "trigger", "created_at")),
            "firings": RuleFiring.objects.count(),
            "events": list(TicketEvent.objects.order_by("pk").values_list("pk", "kind", "actor_label", "created_at")),
        }


def _rows_mentioning(tenant, needle: str) -> list[str]:
    """Every tenant-owned table, each row as text (its search vector included), and the stored responses."""
    found = []
    with tenant_context(tenant), connection.cursor() as cursor:
        for model in apps.get_models():
            if not issubclass(model, TenantModel):
                continue
            table = model._meta.db_table
            cursor.execute(
                f'SELECT count(*) FROM "{table}" t WHERE t.tenant_id = %s AND t::text ILIKE %s',
                [tenant.pk, f"%{needle}%"],
            )
            if cursor.fetchone()[0]:
                found.append(table)
        bodies = IdempotencyKey.objects.values_list("response_body", flat=True)
        if any(needle.lower() in bytes(body).decode().lower() for body in bodies):
            found.append("response_body")
    if LogEntry.objects.filter(object_repr__icontains=needle).exists():
        found.append("django_admin_log")
    return found


def test_erasure_leaves_no_trace_of_the_customer_and_keeps_the_desks_history(desk):
    tenant = desk.tenant
    assert set(_rows_mentioning(tenant, EMAIL)) >= {"tickets_customer", "helpdesk_outboxevent", "helpdesk_delivery"}
    assert "tickets_ticketevent" in _rows_mentioning(tenant, EMAIL) and "response_body" in _rows_mentioning(
        tenant, EMAIL
    )
    assert "escalation_escalation" in _rows_mentioning(tenant, "xylophonist")
    assert {"tickets_message", "tickets_ticket"} <= set(_rows_mentioning(tenant, PHRASE))
    assert desk.get("/api/v1/tickets/?q=xylophonist").json()["results"]
    before = _state(tenant)

    response = desk.delete(f"/api/v1/customers/{desk.customer_id}/")
    assert response.status_code == 204 and response.content == b""

    for needle in (EMAIL, PHRASE, "xylophonist", PHONE, "Pat Quill", "Pat "):
        assert _rows_mentioning(tenant, needle) == [], needle
    assert desk.get("/api/v1/tickets/?q=xylophonist").json()["results"] == []
    after = _state(tenant)
    erased_events = [e for e in after["events"] if e[1] == "customer_erased"]
    assert len(erased_events) == 1
    assert {**after, "events": [e for e in after["events"] if e[1] != "customer_erased"]} == before

    customer = desk.get(f"/api/v1/customers/{desk.customer_id}/").json()
    assert (customer["name"], customer["email"], customer["phone"]) == (
        TOMBSTONE_NAME,
        f"erased-{desk.customer_id}@erased.invalid",
        "",
    )
    assert customer["erased_at"] is not None
    ticket = desk.get(f"/api/v1/tickets/{desk.ticket_id}/").json()
    assert (ticket["subject"], ticket["description"]) == (TOMBSTONE_TEXT, TOMBSTONE_TEXT)
    assert ticket["requester"]["id"] == desk.customer_id
    thread = desk.get(f"/api/v1/tickets/{desk.ticket_id}/messages/").json()["results"]
    assert [m["body"] for m in thread if m["author_type"] == "customer"] == [TOMBSTONE_TEXT]
    reply = next(m["body"] for m in thread if m["author_type"] == "agent" and not m["internal"])
    assert reply.startswith("Hi [erased], sorry to hear that [erased on request]")
    with tenant_context(tenant):
        audit = AuditEvent.objects.get(kind="customer.erased")
        redacted = TicketEvent.objects.get(ticket_id=desk.ticket_id, kind="created")
        pending = Delivery.objects.filter(event__type="customer.update", event__payload__milestone="resolved").get()
    assert (audit.object_id, audit.after["tickets"], audit.after["messages"]) == (desk.customer_id, 1, 1)
    assert audit.actor_label.startswith("token ")
    assert redacted.redacted_at is not None and set(redacted.after) == {
        "subject",
        "priority",
        "channel",
        "category",
        "requester",
    }
    assert (pending.status, pending.last_error) == (DeliveryStatus.FAILED, ERR_RECIPIENT_ERASED)
    # The cancelled e-mail is not sent by a later dispatch, and nothing goes to the tombstone address.
    sent = len(mail.outbox)
    dispatcher.dispatch()
    late = [address for message in mail.outbox[sent:] for address in message.to]
    assert not [a for a in late if a == EMAIL or a.endswith("@erased.invalid")], late


def test_a_second_erasure_changes_and_records_nothing(desk):
    assert desk.delete(f"/api/v1/customers/{desk.customer_id}/").status_code == 204
    before = _state(desk.tenant)
    assert desk.delete(f"/api/v1/customers/{desk.customer_id}/").status_code == 204
    assert _state(desk.tenant) == before
    with tenant_context(desk.tenant):
        assert AuditEvent.objects.filter(kind="customer.erased").count() == 1


def test_an_erased_customer_cannot_be_edited_back(desk):
    desk.delete(f"/api/v1/customers/{desk.customer_id}/")
    response = desk.patch(f"/api/v1/customers/{desk.customer_id}/", {"email": EMAIL}, format="json")
    assert response.status_code == 409 and error_of(response)["code"] == "erased"
    # A returning customer is a new one.
    again = desk.post(
        "/api/v1/tickets/", {"subject": "Hi", "description": "Back", "requester": {"email": EMAIL}}, format="json"
    )
    assert again.json()["requester"]["id"] != desk.customer_id


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_below_admin_erasure_is_403_and_changes_nothing(desk, role):
    before = _state(desk.tenant)
    response = _client(desk.tenant, role).delete(f"/api/v1/customers/{desk.customer_id}/")
    assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    assert _state(desk.tenant) == before
    assert "tickets_customer" in _rows_mentioning(desk.tenant, EMAIL)
    with tenant_context(desk.tenant):
        assert not AuditEvent.objects.filter(kind="customer.erased").exists()


def test_another_tenants_customer_is_404_and_untouched(desk, api_b):
    before = _state(desk.tenant)
    response = api_b.delete(f"/api/v1/customers/{desk.customer_id}/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert _state(desk.tenant) == before
    with tenant_context(desk.tenant):
        assert Customer.objects.get(pk=desk.customer_id).email == EMAIL
        assert not AuditEvent.objects.exists()


def test_the_audit_trail_admits_no_other_change(desk):
    from django.db import InternalError, ProgrammingError, transaction

    with tenant_context(desk.tenant):
        event = TicketEvent.objects.filter(ticket_id=desk.ticket_id, kind="created").get()
        now = timezone.now()
        refused = [
            {"after": {"subject": "rewritten"}},  # no redaction stamp
            {"kind": "updated", "redacted_at": now},  # the structure moved
            {"after": {"other": "keys"}, "redacted_at": now},  # the keys changed
        ]
        for change in refused:
            with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
                TicketEvent.objects.filter(pk=event.pk).update(**change)
        with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
            TicketEvent.objects.filter(pk=event.pk).delete()


def test_a_customer_without_tickets_is_erased_too(api_a_admin, tenant_a):
    created = api_a_admin.post(
        "/api/v1/customers/", {"email": "lone@example.com", "name": "Lone Ranger"}, format="json"
    )
    customer_id = created.json()["id"]
    assert api_a_admin.delete(f"/api/v1/customers/{customer_id}/").status_code == 204
    body = api_a_admin.get(f"/api/v1/customers/{customer_id}/").json()
    assert (body["email"], body["name"]) == (f"erased-{customer_id}@erased.invalid", TOMBSTONE_NAME)
    assert _rows_mentioning(tenant_a, "lone@example.com") == []
    with tenant_context(tenant_a):
        audit = AuditEvent.objects.get(kind="customer.erased")
    assert (audit.object_id, audit.after["tickets"]) == (customer_id, 0)
