"""The escalation stage claims whole tenants' shares (issue 17). It claimed the oldest due tickets: a storm spread
over a thousand tenants then gave each 1,000-ticket claim ~630 tenant shares of one or two tickets, and a share
has a fixed cost (its context, its reads, one statement per table written; bench/SWEEP.md). Now the claim serves
the tenants of the oldest due tickets, with all of their due tickets (up to the limit), tenant by tenant: the
same storm's claim is ~100 shares of ten. Oldest first still decides which tenants come first. Capped as before."""

from django.db import migrations

CLAIM_FN = """
CREATE OR REPLACE FUNCTION escalation_claim_due_tickets(p_now timestamptz, p_limit integer)
RETURNS TABLE(ticket_id bigint, tenant_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH oldest AS (
        SELECT d.tenant_id, min(d.rules_due_at) AS since FROM (
            SELECT o.tenant_id, o.rules_due_at FROM tickets_ticket o
            WHERE o.rules_due_at <= p_now
            ORDER BY o.rules_due_at
            LIMIT LEAST(GREATEST(p_limit, 0), 10000)
        ) d GROUP BY d.tenant_id
    )
    SELECT t.id, t.tenant_id FROM tickets_ticket t JOIN oldest ON oldest.tenant_id = t.tenant_id
    WHERE t.rules_due_at <= p_now
    ORDER BY oldest.since, t.tenant_id, t.rules_due_at
    LIMIT LEAST(GREATEST(p_limit, 0), 10000)
    FOR UPDATE OF t SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION escalation_claim_due_tickets(timestamptz, integer) FROM PUBLIC;
"""

PREVIOUS_FN = """
CREATE OR REPLACE FUNCTION escalation_claim_due_tickets(p_now timestamptz, p_limit integer)
RETURNS TABLE(ticket_id bigint, tenant_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id, t.tenant_id FROM tickets_ticket t
    WHERE t.rules_due_at <= p_now
    ORDER BY t.rules_due_at
    LIMIT LEAST(GREATEST(p_limit, 0), 10000)
    FOR UPDATE SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION escalation_claim_due_tickets(timestamptz, integer) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("escalation", "0012_rule_actions")]

    operations = [migrations.RunSQL(CLAIM_FN, PREVIOUS_FN)]
