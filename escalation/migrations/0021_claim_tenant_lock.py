"""The escalation stage's claim is tenant-exclusive between sweeps (issue 17: a storm drained by every worker
process). Routing reads the members' load (their open escalations) and the round-robin order without row locks:
two sweeps opening one tenant's escalations at the same moment could both give away an agent's last spare slot.
So the claim takes a transaction-level advisory lock per tenant (namespace ROUTING_LOCK, the tenant id) and claims
due tickets of the tenants it got only: a tenant another sweep's claim holds is skipped, not waited on — its
tickets stay due and a later claim takes them, after that transaction's commit (the lock is released after the
commit is visible, so the next claim's reads see its escalations). One tenant's escalations are decided by one
transaction at a time, as in a sequential run.

- Only try-locks, never a wait: no deadlock can involve them, whatever order two claims meet tenants in.
- Tenants are locked oldest first, only until the due tickets counted for them reach the limit, so a lock the
  LIMIT then leaves without rows is rare (a tenant with more due tickets than the window counted, or whose rows
  another transaction holds): it only keeps that tenant from other claims until this one commits.
- The tenants are counted over the oldest 10,000 due tickets (the cap the claim always had), not the oldest
  `limit`: a second sweep must see past the tenants the first one holds.
- Ties on the due time are broken by ticket id, so which tickets a claim takes does not depend on the plan.
The SLA stage decides no routing and takes no tenant lock; the message path's escalations (API, mail) do not
take this lock either."""

import importlib

from django.db import migrations

ROUTING_LOCK = 0x726F7574  # "rout": the advisory lock's first key; the second is the tenant id


def tenant_locking_claim(*, function: str, returns: str, table: str, due: str, where: str) -> str:
    """A claim function that holds whole tenants (this migration's and the watch claim's, 0022): the tenants of the
    oldest 10,000 due rows of `table` (alias o/t: `due` is the due column, `where` the rest of the due condition
    on alias t), oldest first, try-locked until their due rows reach the limit; then those tenants' due rows, FOR
    UPDATE SKIP LOCKED. Returns (row id, tenant id)."""
    due_rows = f"t.{due} <= p_now" + (f" AND {where}" if where else "")
    return f"""
CREATE OR REPLACE FUNCTION {function}(p_now timestamptz, p_limit integer)
RETURNS TABLE({returns} bigint, tenant_id bigint)
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
            SELECT t.tenant_id, t.{due} AS due_at FROM {table} t
            WHERE {due_rows}
            ORDER BY t.{due}
            LIMIT 10000
        ) d GROUP BY d.tenant_id ORDER BY min(d.due_at), d.tenant_id
    LOOP
        EXIT WHEN v_counted >= v_limit;
        -- The key's second half is an int4: ids past 2^31 share a key with a smaller one (both kept apart together).
        IF pg_try_advisory_xact_lock({ROUTING_LOCK}, (v_tenant.tenant_id % 2147483647)::integer) THEN
            v_mine := v_mine || v_tenant.tenant_id;
            v_counted := v_counted + v_tenant.due;
        END IF;
    END LOOP;
    RETURN QUERY
        SELECT t.id, t.tenant_id FROM {table} t
        JOIN unnest(v_mine) WITH ORDINALITY AS mine(tenant_id, pos) ON mine.tenant_id = t.tenant_id
        WHERE {due_rows}
        ORDER BY mine.pos, t.{due}, t.id
        LIMIT v_limit
        FOR UPDATE OF t SKIP LOCKED;
END
$$;
REVOKE ALL ON FUNCTION {function}(timestamptz, integer) FROM PUBLIC;
"""


CLAIM_FN = tenant_locking_claim(
    function="escalation_claim_due_tickets", returns="ticket_id", table="tickets_ticket", due="rules_due_at", where=""
)
# escalation/0013's definition.
PREVIOUS_FN = importlib.import_module("escalation.migrations.0013_claim_by_tenant").CLAIM_FN


class Migration(migrations.Migration):
    dependencies = [("escalation", "0020_clock_facts_cost")]

    operations = [migrations.RunSQL(CLAIM_FN, PREVIOUS_FN)]
