"""The ticket facts the escalation metrics select and group by, copied onto each escalation row.

metrics/queries.py filters escalations by their ticket's current team, channel, priority and category, grades
handoffs by its current priority, finds repeats by its account and category, and counts the tickets created in
a period that escalated. Read through a join, that is one ticket lookup per escalation (150,000 for a 90-day
period), or a hash of the whole tickets table, which grows with the tenant's history, not with the period
(bench/METRICS.md). Copied here, the metrics read the escalations alone.

The copies are kept by the database, in one place, so that no write path can forget them: an escalation takes
its ticket's values when it is written (or moved to another ticket), and a ticket that changes one of them
passes it on to its escalations (a trigger with a WHEN clause: other ticket updates cost nothing). Both run as
the tables' owner, like tickets_search_ids, because a ticket may change outside a tenant transaction (the
sweep's batches) where row-level security would hide the escalations to update; they touch only the
escalations of the ticket being written. The columns are not model fields: Django never writes them, so a
stale instance cannot save old values back.
"""

from django.db import migrations

FACTS = ("created_at", "status", "priority", "channel", "category", "team_id", "account_id")

COLUMNS = """
ALTER TABLE escalation_escalation
    ADD COLUMN ticket_created_at timestamptz,
    ADD COLUMN ticket_status varchar(16),
    ADD COLUMN ticket_priority varchar(16),
    ADD COLUMN ticket_channel varchar(16),
    ADD COLUMN ticket_category varchar(50),
    ADD COLUMN ticket_team_id bigint,
    ADD COLUMN ticket_account_id bigint;
"""

_SET_FROM_T = ", ".join(f"ticket_{name} = t.{name}" for name in FACTS)

BACKFILL = f"""
UPDATE escalation_escalation e SET {_SET_FROM_T} FROM tickets_ticket t WHERE t.id = e.ticket_id;
ALTER TABLE escalation_escalation
    ALTER COLUMN ticket_created_at SET NOT NULL,
    ALTER COLUMN ticket_status SET NOT NULL,
    ALTER COLUMN ticket_priority SET NOT NULL,
    ALTER COLUMN ticket_channel SET NOT NULL,
    ALTER COLUMN ticket_category SET NOT NULL;
"""

TRIGGERS = f"""
CREATE OR REPLACE FUNCTION escalation_take_ticket_facts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    SELECT {", ".join(f"t.{name}" for name in FACTS)}
      INTO {", ".join(f"NEW.ticket_{name}" for name in FACTS)}
      FROM tickets_ticket t WHERE t.id = NEW.ticket_id;
    RETURN NEW;
END $$;
CREATE TRIGGER escalation_ticket_facts
    BEFORE INSERT OR UPDATE OF ticket_id ON escalation_escalation
    FOR EACH ROW EXECUTE FUNCTION escalation_take_ticket_facts();

CREATE OR REPLACE FUNCTION escalation_pass_ticket_facts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    UPDATE escalation_escalation
       SET {", ".join(f"ticket_{name} = NEW.{name}" for name in FACTS)}
     WHERE ticket_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER ticket_escalation_facts
    AFTER UPDATE OF {", ".join(FACTS)} ON tickets_ticket
    FOR EACH ROW
    WHEN ({" OR ".join(f"OLD.{name} IS DISTINCT FROM NEW.{name}" for name in FACTS)})
    EXECUTE FUNCTION escalation_pass_ticket_facts();
REVOKE ALL ON FUNCTION escalation_take_ticket_facts() FROM PUBLIC;
REVOKE ALL ON FUNCTION escalation_pass_ticket_facts() FROM PUBLIC;
"""

DROP = """
DROP TRIGGER IF EXISTS ticket_escalation_facts ON tickets_ticket;
DROP FUNCTION IF EXISTS escalation_pass_ticket_facts();
DROP TRIGGER IF EXISTS escalation_ticket_facts ON escalation_escalation;
DROP FUNCTION IF EXISTS escalation_take_ticket_facts();
ALTER TABLE escalation_escalation
    DROP COLUMN ticket_created_at, DROP COLUMN ticket_status, DROP COLUMN ticket_priority,
    DROP COLUMN ticket_channel, DROP COLUMN ticket_category, DROP COLUMN ticket_team_id,
    DROP COLUMN ticket_account_id;
"""

# The period's escalations by time (escalation_tenant_created) serve the escalation cohort; this one the ticket
# cohort (the escalations of the tickets created in the period).
INDEXES = """
CREATE INDEX escalation_tenant_ticket_created ON escalation_escalation (tenant_id, ticket_created_at);
"""


class Migration(migrations.Migration):
    dependencies = [("escalation", "0009_rule_supersedes"), ("tickets", "0010_search_ids")]

    operations = [
        migrations.RunSQL(COLUMNS + BACKFILL + TRIGGERS + INDEXES, DROP),
    ]
