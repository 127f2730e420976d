"""The escalation pass's reads of a whole claim: the claimed tickets' calls, for the call requests
(callnotes.services.calls_across; helpdesk.tenancy.CALL_READ_TABLES), read-only and open only while
tenancy.tenant_reads holds (rls.READS_PREDICATE)."""

from django.db import migrations

from helpdesk.rls import enable_tenant_reads
from helpdesk.tenancy import CALL_READ_TABLES


class Migration(migrations.Migration):
    dependencies = [("callnotes", "0003_knowledge_plural"), ("escalation", "0018_claim_reads_claimreads")]

    operations = [enable_tenant_reads(table) for table in CALL_READ_TABLES]
