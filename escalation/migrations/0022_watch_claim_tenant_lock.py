"""The time-watch claim holds whole tenants too, like the escalation claim (0021): the watch stage routes (a
time_open rule opens escalations through batch.open_due), and with joiners two sweeps run at once in every storm,
one of them possibly a stage ahead of the other. A claim takes the same advisory lock per tenant (0021's
ROUTING_LOCK) and claims only the due watches of the tenants it got; a tenant another sweep's claim holds -- in
either stage -- is skipped and its watches stay due for a later claim. Try-locks only: no deadlock. The review of
the joiner merge found the gap (a sweep's rules stage and another's watch stage giving away one agent's last slot)."""

import importlib

from django.db import migrations

tickets_claim = importlib.import_module("escalation.migrations.0021_claim_tenant_lock")

CLAIM_FN = f"""
CREATE OR REPLACE FUNCTION escalation_claim_due_watches(p_now timestamptz, p_limit integer)
RETURNS TABLE(watch_id bigint, tenant_id bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
DECLARE
    v_limit integer := LEAST(GREATEST(p_limit, 0), 10000);
    v_mine bigint[] := '{{}}';
    v_counted bigint := 0;
    v_tenant record;
BEGIN
    FOR v_tenant IN
        SELECT d.tenant_id, count(*) AS due FROM (
            SELECT w.tenant_id, w.due_at FROM escalation_timewatch w
            WHERE w.fired_at IS NULL AND w.due_at <= p_now
            ORDER BY w.due_at
            LIMIT 10000
        ) d GROUP BY d.tenant_id ORDER BY min(d.due_at), d.tenant_id
    LOOP
        EXIT WHEN v_counted >= v_limit;
        IF pg_try_advisory_xact_lock({tickets_claim.ROUTING_LOCK}, (v_tenant.tenant_id % 2147483647)::integer) THEN
            v_mine := v_mine || v_tenant.tenant_id;
            v_counted := v_counted + v_tenant.due;
        END IF;
    END LOOP;
    RETURN QUERY
        SELECT w.id, w.tenant_id FROM escalation_timewatch w
        WHERE w.fired_at IS NULL AND w.due_at <= p_now AND w.tenant_id = ANY(v_mine)
        ORDER BY w.due_at, w.id
        LIMIT v_limit
        FOR UPDATE OF w SKIP LOCKED;
END
$$;
REVOKE ALL ON FUNCTION escalation_claim_due_watches(timestamptz, integer) FROM PUBLIC;
"""

# escalation/0006's definition.
PREVIOUS_FN = """
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


class Migration(migrations.Migration):
    dependencies = [("escalation", "0021_claim_tenant_lock")]

    operations = [migrations.RunSQL(CLAIM_FN, PREVIOUS_FN)]
