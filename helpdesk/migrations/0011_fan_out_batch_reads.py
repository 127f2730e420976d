"""The fan-out's batch reads, across the claimed events' tenants, whether each has an active webhook or channel
(read-only): a tenant with neither gets no deliveries, so its events are marked dispatched without a visit
(helpdesk.tenancy.FAN_OUT_READ_TABLES, helpdesk/notifications/dispatcher.py)."""

from django.db import migrations

from helpdesk.rls import enable_tenant_batch_read
from helpdesk.tenancy import FAN_OUT_READ_TABLES


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0010_delivery_urgent")]

    operations = [enable_tenant_batch_read(table) for table in FAN_OUT_READ_TABLES]
