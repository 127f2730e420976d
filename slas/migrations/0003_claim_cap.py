"""The sweep's claim function takes a limit from its caller; the app role may call it, so cap the limit
(a claim is a batch, never a table scan)."""

from django.db import migrations

CLAIM_FN = """
CREATE OR REPLACE FUNCTION slas_claim_due_timers(p_now timestamptz, p_limit integer)
RETURNS TABLE(timer_id bigint, tenant_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id, t.tenant_id FROM slas_slatimer t
    WHERE t.status = 'running' AND t.next_check_at <= p_now
    ORDER BY t.next_check_at
    LIMIT LEAST(GREATEST(p_limit, 0), 10000)
    FOR UPDATE SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION slas_claim_due_timers(timestamptz, integer) FROM PUBLIC;
"""

PREVIOUS_FN = CLAIM_FN.replace("LEAST(GREATEST(p_limit, 0), 10000)", "p_limit")


class Migration(migrations.Migration):
    dependencies = [("slas", "0002_rls_and_sweep")]

    operations = [migrations.RunSQL(CLAIM_FN, PREVIOUS_FN)]
