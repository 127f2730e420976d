"""The clock outcomes on the escalation rows (0017) stay right when two transactions write clocks of one ticket at
the same time.

0017's triggers recompute an escalation's outcomes from the clocks as their statement sees them. Two transactions
that each stop one clock of a ticket (a reply meeting the first response while the sweep breaches the resolution, a
manager's acknowledge beside the sweep) each saw the other's clock as it was before: the second to commit waited on
the first's escalation row, then kept its own count, computed without the first's clock (a met clock counted
once instead of twice, for good). Now each trigger first locks the tickets of the clocks it refreshes, in id order
(as the sweep and the lifecycle actions lock tickets first): the second waits for the first to commit, and its
refresh, a new statement, sees both clocks. An escalation being written locks its ticket the same way before it
takes its ticket's clock counts (else a clock stopped meanwhile by another transaction would miss it: that
transaction's refresh cannot see the escalation yet). A ticket already locked by the same transaction (the sweep's
claim) costs a lookup, no wait.
"""

import importlib

from django.db import migrations

facts = importlib.import_module("escalation.migrations.0017_clock_facts")

# The tickets of the keys a trigger refreshes, locked before it reads the clocks.
LOCK = """
    PERFORM 1 FROM tickets_ticket t
    WHERE (t.tenant_id, t.id) IN (SELECT k.tenant_id, k.ticket_id FROM ({keys}) k)
    ORDER BY t.id FOR NO KEY UPDATE OF t;
"""


TAKE_LOCK = """
    PERFORM 1 FROM tickets_ticket t WHERE t.id = NEW.ticket_id AND t.tenant_id = NEW.tenant_id FOR NO KEY UPDATE;
"""


def _take(lock: bool) -> str:
    assert facts.TAKE.count("BEGIN\n") == 1
    return facts.TAKE.replace("BEGIN\n", "BEGIN\n" + (TAKE_LOCK if lock else ""))


def _functions(lock: bool) -> str:
    sql = []
    for operation, keys in (("inserted", facts.INSERTED), ("updated", facts.UPDATED), ("deleted", facts.DELETED)):
        first = LOCK.format(keys=keys) if lock else ""
        sql.append(f"""
CREATE OR REPLACE FUNCTION escalation_clock_facts_{operation}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN {first} {facts._refresh(keys)} RETURN NULL; END $$;
REVOKE ALL ON FUNCTION escalation_clock_facts_{operation}() FROM PUBLIC;""")
    return "\n".join(sql) + _take(lock)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0017_clock_facts")]

    operations = [migrations.RunSQL(_functions(lock=True), _functions(lock=False))]
