"""The batch policy reads app.tenant_batch once per statement instead of once per row
(helpdesk.rls.BATCH_PREDICATE)."""

from django.db import migrations

from helpdesk.rls import batch_predicate_update
from helpdesk.tenancy import BATCH_READ_TABLES, BATCH_TABLES


class Migration(migrations.Migration):
    dependencies = [("slas", "0005_tenant_batch_reads")]

    operations = [batch_predicate_update(table, read_only=False) for table in BATCH_TABLES] + [
        batch_predicate_update(table, read_only=True) for table in BATCH_READ_TABLES
    ]
