"""The escalation pass over a whole claim: the batch policy on the calls, read for the claim's call requests
(callnotes.services.calls_across) and written for it at the end (helpdesk.tenancy.CALL_BATCH_TABLES)."""

from django.db import migrations

from helpdesk.rls import enable_tenant_batch
from helpdesk.tenancy import CALL_BATCH_TABLES


class Migration(migrations.Migration):
    dependencies = [("callnotes", "0003_knowledge_plural"), ("escalation", "0019_claim_reads")]

    operations = [enable_tenant_batch(table) for table in CALL_BATCH_TABLES]
