"""The escalation pass's reads of a whole claim (escalation/claim_reads.py, helpdesk.tenancy.CLAIM_READ_TABLES): a
read-only policy for the claimed tenants, open only while tenancy.tenant_reads holds (rls.READS_PREDICATE); and the
batch policy on the escalations and time watches, which the pass reads and writes for the whole claim
(CLAIM_BATCH_TABLES)."""

from django.db import migrations

from helpdesk.rls import enable_tenant_batch, enable_tenant_reads
from helpdesk.tenancy import CLAIM_BATCH_TABLES, CLAIM_READ_TABLES


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0018_clock_facts_locks"),
        ("tickets", "0016_opening_sentiment"),
        ("helpdesk", "0014_subject_tokens"),
        ("mail", "0002_rls"),
    ]

    operations = [enable_tenant_reads(table) for table in CLAIM_READ_TABLES] + [
        enable_tenant_batch(table) for table in CLAIM_BATCH_TABLES
    ]
