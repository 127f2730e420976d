"""The opt-in cross-tenant policy for the sweep's SLA stage (helpdesk/rls.py, tenancy.tenant_batch)."""

from django.db import migrations

from helpdesk.rls import enable_tenant_batch
from helpdesk.tenancy import BATCH_TABLES


class Migration(migrations.Migration):
    dependencies = [
        ("slas", "0003_claim_cap"),
        ("tickets", "0006_external_id"),
        ("helpdesk", "0004_outboxevent"),
    ]

    operations = [enable_tenant_batch(table) for table in BATCH_TABLES]
