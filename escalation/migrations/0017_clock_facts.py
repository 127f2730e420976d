"""The clock outcomes the escalation metrics read, kept on each escalation row beside its ticket's facts (0010).

Two metrics read clocks (slas_slatimer): the SLA compliance of escalated tickets (their own clocks, escalation_id 0:
met / met or breached) and the escalation clocks' compliance and first action (each escalation's own clocks, one
per metric). Read through joins they were the largest parts of the metrics' plan: an index probe per escalated
ticket (142,150 for a 90-day period of the benchmark) and a hash of 300,000 escalation clocks (bench/METRICS.md).
Stored here, the metrics read the escalations alone:

    ticket_clocks_met, ticket_clocks_stopped   the ticket's own clocks that are met / met or breached
    clock_acknowledge, clock_first_response, clock_manager_response   the status of the escalation's clock of
                                               that metric (NULL: no such clock)
    clock_first_response_met_at                when its first-response clock stopped in time (the first action)
    clock_update_met_periods, clock_update_misses   its customer-update clock's counts (NULL: no such clock)

Kept by the database, like 0010's copies, so that no write path can forget them: an escalation takes them when it
is written (or moved to another ticket), and any statement that writes clocks refreshes the escalations of the
clocks it wrote -- one statement-level trigger per operation with transition tables, so that the sweep's batch of
10,000 clocks is one set-based refresh, not 10,000. They run as the tables' owner (the sweep's cross-tenant
batches would otherwise not see the escalations) and touch only the escalations of the clocks being written, by
the written rows' own tenant and ticket. A refresh recomputes from the clocks as stored (no increments), so it is
right whatever the order of writes. The columns are not model fields: Django never writes them.
"""

from django.db import migrations

COLUMNS = """
ALTER TABLE escalation_escalation
    ADD COLUMN ticket_clocks_met integer NOT NULL DEFAULT 0,
    ADD COLUMN ticket_clocks_stopped integer NOT NULL DEFAULT 0,
    ADD COLUMN clock_acknowledge varchar(16),
    ADD COLUMN clock_first_response varchar(16),
    ADD COLUMN clock_first_response_met_at timestamptz,
    ADD COLUMN clock_manager_response varchar(16),
    ADD COLUMN clock_update_met_periods integer,
    ADD COLUMN clock_update_misses integer;
"""

# What one ticket's own clocks (t) and one escalation's (s) come to. `k` names the ticket (tenant_id, ticket_id)
# or the escalation (tenant_id, ticket_id, escalation_id).
TICKET_CLOCKS = """
SELECT k.tenant_id, k.ticket_id,
       count(s.id) FILTER (WHERE s.status = 'met')::int AS met,
       count(s.id) FILTER (WHERE s.status IN ('met', 'breached'))::int AS stopped
FROM {keys} k
LEFT JOIN slas_slatimer s ON s.tenant_id = k.tenant_id AND s.ticket_id = k.ticket_id AND s.escalation_id = 0
GROUP BY k.tenant_id, k.ticket_id
"""
ESCALATION_CLOCKS = """
SELECT k.tenant_id, k.ticket_id, k.escalation_id,
       max(s.status) FILTER (WHERE s.metric = 'escalation_acknowledge') AS acknowledge,
       max(s.status) FILTER (WHERE s.metric = 'escalation_first_response') AS first_response,
       max(s.met_at) FILTER (WHERE s.metric = 'escalation_first_response') AS first_response_met_at,
       max(s.status) FILTER (WHERE s.metric = 'manager_response') AS manager_response,
       sum(s.met_periods) FILTER (WHERE s.metric = 'customer_update')::int AS update_met_periods,
       sum(s.misses) FILTER (WHERE s.metric = 'customer_update')::int AS update_misses
FROM {keys} k
LEFT JOIN slas_slatimer s ON s.tenant_id = k.tenant_id AND s.ticket_id = k.ticket_id
     AND s.escalation_id = k.escalation_id
GROUP BY k.tenant_id, k.ticket_id, k.escalation_id
"""
ESCALATION_FACTS = (
    "clock_acknowledge",
    "clock_first_response",
    "clock_first_response_met_at",
    "clock_manager_response",
    "clock_update_met_periods",
    "clock_update_misses",
)
ESCALATION_VALUES = (
    "acknowledge",
    "first_response",
    "first_response_met_at",
    "manager_response",
    "update_met_periods",
    "update_misses",
)


def _refresh(keys: str) -> str:
    """Two statements (one row must not be updated twice by one statement): the escalations of the tickets in
    `keys` whose own clocks changed, then the escalations whose own clocks changed."""
    tickets = f"(SELECT DISTINCT tenant_id, ticket_id FROM ({keys}) x WHERE escalation_id = 0)"
    escalations = f"(SELECT DISTINCT tenant_id, ticket_id, escalation_id FROM ({keys}) x WHERE escalation_id <> 0)"
    mine = ", ".join(f"e.{name}" for name in ESCALATION_FACTS)
    theirs = ", ".join(f"c.{name}" for name in ESCALATION_VALUES)
    return f"""
    UPDATE escalation_escalation e SET ticket_clocks_met = c.met, ticket_clocks_stopped = c.stopped
    FROM ({TICKET_CLOCKS.format(keys=tickets)}) c
    WHERE e.tenant_id = c.tenant_id AND e.ticket_id = c.ticket_id
      AND (e.ticket_clocks_met, e.ticket_clocks_stopped) IS DISTINCT FROM (c.met, c.stopped);
    UPDATE escalation_escalation e SET ({", ".join(ESCALATION_FACTS)}) = ({theirs})
    FROM ({ESCALATION_CLOCKS.format(keys=escalations)}) c
    WHERE e.id = c.escalation_id AND e.tenant_id = c.tenant_id AND e.ticket_id = c.ticket_id
      AND ({mine}) IS DISTINCT FROM ({theirs});
    """


# The clocks a statement wrote that can change a stored outcome: a ticket's own clock only once it is (or was)
# met or breached; an escalation's whenever it is written (its status is stored whatever it is).
_MATTERS = "(r.escalation_id <> 0 OR r.status IN ('met', 'breached'))"
_COMPARED = ("status", "met_at", "met_periods", "misses", "ticket_id", "escalation_id", "metric", "tenant_id")
_CHANGED = " OR ".join(f"o.{name} IS DISTINCT FROM n.{name}" for name in _COMPARED)
INSERTED = f"SELECT r.tenant_id, r.ticket_id, r.escalation_id FROM new_clocks r WHERE {_MATTERS}"
DELETED = f"SELECT r.tenant_id, r.ticket_id, r.escalation_id FROM old_clocks r WHERE {_MATTERS}"
UPDATED = f"""
SELECT x.tenant_id, x.ticket_id, x.escalation_id
FROM old_clocks o JOIN new_clocks n ON n.id = o.id
CROSS JOIN LATERAL (VALUES (o.tenant_id, o.ticket_id, o.escalation_id, o.status),
                           (n.tenant_id, n.ticket_id, n.escalation_id, n.status)) x(tenant_id, ticket_id, escalation_id, status)
WHERE ({_CHANGED}) AND (x.escalation_id <> 0 OR x.status IN ('met', 'breached')
                        OR o.status IN ('met', 'breached') OR n.status IN ('met', 'breached'))
"""

TRIGGERS = f"""
CREATE OR REPLACE FUNCTION escalation_clock_facts_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN {_refresh(INSERTED)} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION escalation_clock_facts_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN {_refresh(UPDATED)} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION escalation_clock_facts_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN {_refresh(DELETED)} RETURN NULL; END $$;
CREATE TRIGGER slatimer_clock_facts_inserted AFTER INSERT ON slas_slatimer
    REFERENCING NEW TABLE AS new_clocks FOR EACH STATEMENT EXECUTE FUNCTION escalation_clock_facts_inserted();
CREATE TRIGGER slatimer_clock_facts_updated AFTER UPDATE ON slas_slatimer
    REFERENCING OLD TABLE AS old_clocks NEW TABLE AS new_clocks
    FOR EACH STATEMENT EXECUTE FUNCTION escalation_clock_facts_updated();
CREATE TRIGGER slatimer_clock_facts_deleted AFTER DELETE ON slas_slatimer
    REFERENCING OLD TABLE AS old_clocks FOR EACH STATEMENT EXECUTE FUNCTION escalation_clock_facts_deleted();
REVOKE ALL ON FUNCTION escalation_clock_facts_inserted() FROM PUBLIC;
REVOKE ALL ON FUNCTION escalation_clock_facts_updated() FROM PUBLIC;
REVOKE ALL ON FUNCTION escalation_clock_facts_deleted() FROM PUBLIC;
"""

# 0010's trigger, taking the clock outcomes too when an escalation is written or moved to another ticket (its
# clocks may be written before it: the sweep's batch reserves the ids).
_TICKET_FACTS = ("created_at", "status", "priority", "channel", "category", "team_id", "account_id")
TAKE = f"""
CREATE OR REPLACE FUNCTION escalation_take_ticket_facts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    SELECT {", ".join(f"t.{name}" for name in _TICKET_FACTS)}
      INTO {", ".join(f"NEW.ticket_{name}" for name in _TICKET_FACTS)}
      FROM tickets_ticket t WHERE t.id = NEW.ticket_id AND t.tenant_id = NEW.tenant_id;
    SELECT c.met, c.stopped INTO NEW.ticket_clocks_met, NEW.ticket_clocks_stopped
      FROM ({TICKET_CLOCKS.format(keys="(SELECT NEW.tenant_id AS tenant_id, NEW.ticket_id AS ticket_id)")}) c;
    SELECT {", ".join(f"c.{name}" for name in ESCALATION_VALUES)}
      INTO {", ".join(f"NEW.{name}" for name in ESCALATION_FACTS)}
      FROM ({
    ESCALATION_CLOCKS.format(
        keys="(SELECT NEW.tenant_id AS tenant_id, NEW.ticket_id AS ticket_id, NEW.id AS escalation_id)"
    )
}) c;
    RETURN NEW;
END $$;
"""
TAKE_BEFORE = f"""
CREATE OR REPLACE FUNCTION escalation_take_ticket_facts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    SELECT {", ".join(f"t.{name}" for name in _TICKET_FACTS)}
      INTO {", ".join(f"NEW.ticket_{name}" for name in _TICKET_FACTS)}
      FROM tickets_ticket t WHERE t.id = NEW.ticket_id;
    RETURN NEW;
END $$;
"""

# The backfill: every escalation from the clocks as stored (150,000 escalations, 2.3 million clocks in the
# benchmark: set-based, two statements).
BACKFILL = f"""
UPDATE escalation_escalation e SET ticket_clocks_met = c.met, ticket_clocks_stopped = c.stopped
FROM ({TICKET_CLOCKS.format(keys="(SELECT DISTINCT tenant_id, ticket_id FROM escalation_escalation)")}) c
WHERE e.tenant_id = c.tenant_id AND e.ticket_id = c.ticket_id;
UPDATE escalation_escalation e SET ({", ".join(ESCALATION_FACTS)}) = ({", ".join(f"c.{n}" for n in ESCALATION_VALUES)})
FROM ({
    ESCALATION_CLOCKS.format(keys="(SELECT tenant_id, ticket_id, id AS escalation_id FROM escalation_escalation)")
}) c
WHERE e.id = c.escalation_id;
"""

DROP = """
DROP TRIGGER IF EXISTS slatimer_clock_facts_inserted ON slas_slatimer;
DROP TRIGGER IF EXISTS slatimer_clock_facts_updated ON slas_slatimer;
DROP TRIGGER IF EXISTS slatimer_clock_facts_deleted ON slas_slatimer;
DROP FUNCTION IF EXISTS escalation_clock_facts_inserted();
DROP FUNCTION IF EXISTS escalation_clock_facts_updated();
DROP FUNCTION IF EXISTS escalation_clock_facts_deleted();
ALTER TABLE escalation_escalation
    DROP COLUMN ticket_clocks_met, DROP COLUMN ticket_clocks_stopped, DROP COLUMN clock_acknowledge,
    DROP COLUMN clock_first_response, DROP COLUMN clock_first_response_met_at, DROP COLUMN clock_manager_response,
    DROP COLUMN clock_update_met_periods, DROP COLUMN clock_update_misses;
"""


class Migration(migrations.Migration):
    dependencies = [("escalation", "0016_rules_batch"), ("slas", "0010_metrics_indexes")]

    operations = [
        migrations.RunSQL(COLUMNS + TAKE + TRIGGERS + BACKFILL, TAKE_BEFORE + DROP),
    ]
