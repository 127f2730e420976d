"""Reads of the notification objects, shared by the API and the admin."""

from django.db.models import QuerySet

from helpdesk.models import Tenant
from helpdesk.notifications.models import Delivery, WebhookSubscription


def webhook_list(*, tenant: Tenant) -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.filter(tenant=tenant)


def webhook_delivery_list(*, tenant: Tenant, webhook_id: int) -> QuerySet[Delivery]:
    return Delivery.objects.filter(tenant=tenant, webhook_id=webhook_id).select_related("event")
