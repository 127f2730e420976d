"""Cap the limit of the time-watch claim, like the other claim functions (the app role may call it)."""

from django.db import migrations

CLAIM_FN = """
CREATE OR REPLACE FUNCTION escalation_claim_due_watches(p_now timestamptz, p_limit integer)
RETURNS TABLE(watch_id bigint, tenant_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT w.id, w.tenant_id FROM escalation_timewatch w
    WHERE w.fired_at IS NULL AND w.due_at <= p_now
    ORDER BY w.due_at
    LIMIT LEAST(GREATEST(p_limit, 0), 10000)
    FOR UPDATE SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION escalation_claim_due_watches(timestamptz, integer) FROM PUBLIC;
"""

PREVIOUS_FN = CLAIM_FN.replace("LEAST(GREATEST(p_limit, 0), 10000)", "p_limit")


class Migration(migrations.Migration):
    dependencies = [("escalation", "0005_claim_due_tickets")]

    operations = [migrations.RunSQL(CLAIM_FN, PREVIOUS_FN)]
