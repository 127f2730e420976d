"""The time-watch claim holds whole tenants too, like the escalation claim (0021): the watch stage routes (a
time_open rule opens escalations through batch.open_due), and with joiners two sweeps run at once in every storm,
one of them possibly a stage ahead of the other. A claim takes the same advisory lock per tenant (0021's
ROUTING_LOCK) and claims only the due watches of the tenants it got; a tenant another sweep's claim holds -- in
either stage -- is skipped and its watches stay due for a later claim. Try-locks only: no deadlock. The review of
the joiner merge found the gap (a sweep's rules stage and another's watch stage giving away one agent's last slot)."""

import importlib

from django.db import migrations

tickets_claim = importlib.import_module("escalation.migrations.0021_claim_tenant_lock")

CLAIM_FN = tickets_claim.tenant_locking_claim(
    function="escalation_claim_due_watches",
    returns="watch_id",
    table="escalation_timewatch",
    due="due_at",
    where="t.fired_at IS NULL",
)
# escalation/0006's definition.
PREVIOUS_FN = importlib.import_module("escalation.migrations.0006_claim_cap").CLAIM_FN


class Migration(migrations.Migration):
    dependencies = [("escalation", "0021_claim_tenant_lock")]

    operations = [migrations.RunSQL(CLAIM_FN, PREVIOUS_FN)]
