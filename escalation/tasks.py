from celery import shared_task

from escalation import watches
from helpdesk.models import Tenant
from helpdesk.tenancy import tenant_context


@shared_task(name="escalation.arm_rule")
def arm_rule_task(tenant_id: int, rule_id: int) -> int:
    """After a time_open rule is written: arm it for the tickets already open (bulk, off the request)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        return watches.watches_arm_rule(rule_id=rule_id)
