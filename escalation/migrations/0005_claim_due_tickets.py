"""The escalation stage of the sweep: tickets whose clocks moved (tickets_ticket.rules_due_at, set by the
SLA sweep in the same transaction as the warning or breach) are claimed across tenants by this narrow
SECURITY DEFINER function, which locks them FOR UPDATE SKIP LOCKED and returns only ids. The rules then
run per tenant, under RLS. The limit is capped so the app role can't turn it into a table scan."""

from django.db import migrations

CLAIM_FN = """
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
    dependencies = [
        ("escalation", "0004_timewatch"),
        ("tickets", "0005_rules_due"),
    ]

    operations = [
        migrations.RunSQL(CLAIM_FN, "DROP FUNCTION IF EXISTS escalation_claim_due_tickets(timestamptz, integer);"),
    ]
