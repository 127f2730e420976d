from functools import partial

from celery import shared_task
from django.db import transaction

from escalation import watches
from escalation.models import EscalationRule
from helpdesk.models import Tenant
from helpdesk.retry import RIDE_THROUGH
from helpdesk.tenancy import tenant_context


@shared_task(name="escalation.arm_rule", **RIDE_THROUGH)
def arm_rule_task(tenant_id: int, rule_id: int) -> int:
    """After a time_open rule is written: arm it for the tickets already open (bulk, off the request)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        return watches.watches_arm_rule(rule_id=rule_id)


def arm_after_commit(rule: EscalationRule, *, was_time_open: bool) -> None:
    """A time_open rule written (or one that no longer is): its watches for open tickets follow, in a task."""
    if rule.trigger == "time_open" or was_time_open:
        transaction.on_commit(partial(arm_rule_task.delay, rule.tenant_id, rule.pk))
