"""Small helpers of the notification tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from helpdesk import workflows
from helpdesk.notifications.models import Delivery, DeliveryAttempt
from helpdesk.tenancy import tenant_context


def open_ticket(tenant, subject="Printer setup", description="How do I add the office printer?", **fields):
    with tenant_context(tenant):
        return workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject=subject,
            description=description,
            requester_email=fields.pop("requester_email", "pat@example.com"),
            requester_name=fields.pop("requester_name", "Pat"),
            **fields,
        )


def deliveries(tenant, **filters) -> list[Delivery]:
    with tenant_context(tenant):
        return list(Delivery.objects.filter(**filters).order_by("pk"))


def attempts(tenant, delivery) -> list[DeliveryAttempt]:
    with tenant_context(tenant):
        return list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))


def later(**delta):
    return timezone.now() + timedelta(**delta)
