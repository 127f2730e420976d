"""Row-level security on the SLA tables, and the sweep's one cross-tenant read.

`slas_claim_due_timers` is SECURITY DEFINER: it sees every tenant's due timers, locks a batch of them
FOR UPDATE SKIP LOCKED in the caller's transaction, and returns only (timer id, tenant id). The sweep
then handles each tenant's share inside that tenant's context, under RLS like everything else. One
narrow function instead of one query per tenant keeps an idle sweep at a single index probe.
"""

from django.db import migrations

from helpdesk.rls import enable_tenant_rls

CLAIM_FN = """
CREATE OR REPLACE FUNCTION slas_claim_due_timers(p_now timestamptz, p_limit integer)
RETURNS TABLE(timer_id bigint, tenant_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id, t.tenant_id FROM slas_slatimer t
    WHERE t.status = 'running' AND t.next_check_at <= p_now
    ORDER BY t.next_check_at
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION slas_claim_due_timers(timestamptz, integer) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("slas", "0001_initial")]

    operations = [
        enable_tenant_rls("slas_businesscalendar"),
        enable_tenant_rls("slas_slapolicy"),
        enable_tenant_rls("slas_slatimer"),
        migrations.RunSQL(CLAIM_FN, "DROP FUNCTION IF EXISTS slas_claim_due_timers(timestamptz, integer);"),
    ]
