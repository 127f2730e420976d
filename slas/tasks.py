from functools import partial

from celery import shared_task
from django.db import transaction

from helpdesk.models import Tenant
from helpdesk.retry import RIDE_THROUGH
from helpdesk.tenancy import tenant_context
from slas import services


@shared_task(name="slas.recalculate", **RIDE_THROUGH)
def recalculate_task(tenant_id: int, calendar_id: int | None = None, policy_id: int | None = None) -> int:
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        return services.timers_recalculate(calendar_id=calendar_id, policy_id=policy_id)


def recalculate_after_commit(tenant_id: int, **target) -> None:
    """A calendar or policy was written (API or admin): its open clocks are recomputed once it commits."""
    transaction.on_commit(partial(recalculate_task.delay, tenant_id, **target))
