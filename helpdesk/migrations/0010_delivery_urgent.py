"""Urgent deliveries first: VIP or critical work (fanout.is_immediate) is claimed ahead of any backlog of
routine deliveries, through its own partial index; the rest in due order, ties broken by id (the order
fan-out wrote them in, which is the events' order)."""

import importlib

from django.db import migrations, models

# The claim as 0005 wrote it, for the way back.
PREVIOUS_CLAIM_FN = importlib.import_module("helpdesk.migrations.0005_notifications").CLAIM_DELIVERIES_FN

CLAIM_DELIVERIES_FN = """
CREATE OR REPLACE FUNCTION helpdesk_claim_deliveries(
    p_now timestamptz, p_limit integer, p_lease_until timestamptz, p_lease uuid)
RETURNS TABLE(delivery_id bigint, tenant_id bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
DECLARE
    wanted integer := LEAST(GREATEST(p_limit, 0), 10000);
    taken integer;
BEGIN
    RETURN QUERY
    UPDATE helpdesk_delivery d
    SET next_attempt_at = LEAST(p_lease_until, p_now + interval '1 hour'), lease = p_lease
    FROM (
        SELECT id FROM helpdesk_delivery
        WHERE status = 'pending' AND urgent AND next_attempt_at <= p_now
        ORDER BY next_attempt_at, id
        LIMIT wanted
        FOR UPDATE SKIP LOCKED
    ) due
    WHERE d.id = due.id
    RETURNING d.id, d.tenant_id;
    GET DIAGNOSTICS taken = ROW_COUNT;
    IF taken < wanted THEN
        -- The urgent rows just claimed are leased (next_attempt_at moved past p_now): not taken twice.
        RETURN QUERY
        UPDATE helpdesk_delivery d
        SET next_attempt_at = LEAST(p_lease_until, p_now + interval '1 hour'), lease = p_lease
        FROM (
            SELECT id FROM helpdesk_delivery
            WHERE status = 'pending' AND next_attempt_at <= p_now
            ORDER BY next_attempt_at, id
            LIMIT wanted - taken
            FOR UPDATE SKIP LOCKED
        ) due
        WHERE d.id = due.id
        RETURNING d.id, d.tenant_id;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION helpdesk_claim_deliveries(timestamptz, integer, timestamptz, uuid) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0009_team_active"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="urgent",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "pending"), ("urgent", True)),
                fields=["next_attempt_at"],
                name="delivery_due_urgent",
            ),
        ),
        migrations.RunSQL(CLAIM_DELIVERIES_FN, reverse_sql=PREVIOUS_CLAIM_FN),
    ]
