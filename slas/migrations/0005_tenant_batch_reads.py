"""The SLA stage's batch also reads the fired tickets' requesters and accounts (read-only), so that the
sla.* outbox events carry the ticket's context for notifications (helpdesk.tenancy.BATCH_READ_TABLES)."""

from django.db import migrations

from helpdesk.rls import enable_tenant_batch_read
from helpdesk.tenancy import BATCH_READ_TABLES


class Migration(migrations.Migration):
    dependencies = [("slas", "0004_tenant_batch")]

    operations = [enable_tenant_batch_read(table) for table in BATCH_READ_TABLES]
