"""The clock outcomes on the escalation rows (0017, 0018) at a storm's cost: the same values, less work.

Measured at full size (bench/SWEEP.md, "Issue 17, fifth round"), the triggers were a large share of the storm's
statements:
- a refresh computed its clocks' aggregates for every ticket and escalation its statement wrote, then updated the
  escalations among them. The sweep's SLA stage stops thousands of clocks of tickets with no escalation yet, and
  its escalation pass writes each new escalation's clocks before the escalation itself (the batch reserves the
  ids): those aggregates were all thrown away. Now only the keys that have an escalation are aggregated. The
  tickets are still locked for every key first (0018: the lock is what makes a concurrent refresh see this
  transaction's escalation once it commits), so the values are the same as 0018's in every interleaving;
- an escalation being written ran four statements (its ticket's lock, its facts, its ticket's clocks, its own
  clocks); now two: the lock (a statement of its own, see TAKE), then the ticket's facts and both clock aggregates
  from one scan of the ticket's clocks.
"""

import importlib

from django.db import migrations

facts = importlib.import_module("escalation.migrations.0017_clock_facts")
locks = importlib.import_module("escalation.migrations.0018_clock_facts_locks")

# The keys of a refresh that can change a stored value: a ticket's own clocks only matter to its escalations, an
# escalation's clocks only to itself. `keys` rows: tenant_id, ticket_id, escalation_id.
ESCALATED_KEYS = """
SELECT x.tenant_id, x.ticket_id, x.escalation_id FROM ({keys}) x
WHERE CASE WHEN x.escalation_id = 0
           THEN EXISTS (SELECT 1 FROM escalation_escalation e WHERE e.tenant_id = x.tenant_id
                        AND e.ticket_id = x.ticket_id)
           ELSE EXISTS (SELECT 1 FROM escalation_escalation e WHERE e.id = x.escalation_id
                        AND e.tenant_id = x.tenant_id AND e.ticket_id = x.ticket_id) END
"""


def _refreshes() -> str:
    sql = []
    for operation, keys in (("inserted", facts.INSERTED), ("updated", facts.UPDATED), ("deleted", facts.DELETED)):
        sql.append(f"""
CREATE OR REPLACE FUNCTION escalation_clock_facts_{operation}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN {locks.LOCK.format(keys=keys)} {facts._refresh(ESCALATED_KEYS.format(keys=keys))} RETURN NULL; END $$;
REVOKE ALL ON FUNCTION escalation_clock_facts_{operation}() FROM PUBLIC;""")
    return "\n".join(sql)


_FACTS = ", ".join(f"t.{name}" for name in facts._TICKET_FACTS)
_INTO = ", ".join(
    [f"NEW.ticket_{name}" for name in facts._TICKET_FACTS]
    + ["NEW.ticket_clocks_met", "NEW.ticket_clocks_stopped"]
    + [f"NEW.{name}" for name in facts.ESCALATION_FACTS]
)
# The same aggregates as 0017's TICKET_CLOCKS and ESCALATION_CLOCKS, over the ticket's own clocks (escalation_id 0)
# and the escalation's (NEW.id), read together.
_MINE = "s.escalation_id = NEW.id"
TAKE = f"""
CREATE OR REPLACE FUNCTION escalation_take_ticket_facts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    -- Its own statement, before the reads: a statement that waited on the lock still reads with the snapshot it
    -- took before waiting, and would miss the clocks the holder stopped (0018).
    PERFORM 1 FROM tickets_ticket t WHERE t.id = NEW.ticket_id AND t.tenant_id = NEW.tenant_id FOR NO KEY UPDATE;
    SELECT {_FACTS},
           count(s.id) FILTER (WHERE s.escalation_id = 0 AND s.status = 'met')::int,
           count(s.id) FILTER (WHERE s.escalation_id = 0 AND s.status IN ('met', 'breached'))::int,
           max(s.status) FILTER (WHERE {_MINE} AND s.metric = 'escalation_acknowledge'),
           max(s.status) FILTER (WHERE {_MINE} AND s.metric = 'escalation_first_response'),
           max(s.met_at) FILTER (WHERE {_MINE} AND s.metric = 'escalation_first_response'),
           max(s.status) FILTER (WHERE {_MINE} AND s.metric = 'manager_response'),
           sum(s.met_periods) FILTER (WHERE {_MINE} AND s.metric = 'customer_update')::int,
           sum(s.misses) FILTER (WHERE {_MINE} AND s.metric = 'customer_update')::int
      INTO {_INTO}
      FROM tickets_ticket t
      LEFT JOIN slas_slatimer s ON s.tenant_id = t.tenant_id AND s.ticket_id = t.id
           AND s.escalation_id IN (0, NEW.id)
     WHERE t.id = NEW.ticket_id AND t.tenant_id = NEW.tenant_id
     GROUP BY {_FACTS};
    RETURN NEW;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("escalation", "0019_claim_reads")]

    operations = [migrations.RunSQL(_refreshes() + TAKE, locks._functions(lock=True))]
