"""The escalation stage's pass over a whole claim (helpdesk.tenancy.RULES_BATCH_TABLES, workflows._sweep_rules):
the batch policy on the customers' milestone messages, written for all the claim's tenants in one statement, and
a read-only one on the configuration versions, read for all of them in one."""

from django.db import migrations

from helpdesk.rls import enable_tenant_batch, enable_tenant_batch_read
from helpdesk.tenancy import RULES_BATCH_READ_TABLES, RULES_BATCH_TABLES


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0015_dispute_currency"),
        ("tickets", "0014_account_manager"),
        ("helpdesk", "0014_subject_tokens"),
    ]

    operations = [enable_tenant_batch(table) for table in RULES_BATCH_TABLES] + [
        enable_tenant_batch_read(table) for table in RULES_BATCH_READ_TABLES
    ]
