"""`metrics_ticket_counts`: the escalation metrics' denominator -- the tickets created in a period (per bucket of
the series, or in all) and how many of them are solved or closed -- counted where it is cheap.

A period of the benchmark holds a million tickets. Read by the app role, each row is checked against the
tickets' row-level security, whose two policies (the tenant's, OR the sweep's batch) keep the planner from
reducing the check to a constant: the count took 1.2-1.3 s in one process instead of 0.4 s in three
(bench/METRICS.md), since the batch policy's subquery also rules out parallel workers. This function runs as the
tables' owner, like tickets_search_ids, and confines itself to the tenant of the caller's transaction -- the
same `app.tenant_id` setting the policies read: no setting, no rows. It returns counts only, never a row.
"""

from django.db import migrations

# Dynamic SQL with the values known at planning (EXECUTE ... USING): a plain SQL function is planned once for any
# arguments, estimated one row, and sorted a million rows for its GROUP BY in one process (1.4 s); planned with
# them it aggregates by hash, with parallel workers (RETURN QUERY may use them since PostgreSQL 14).
TICKET_COUNTS = """
CREATE OR REPLACE FUNCTION metrics_ticket_counts(
    p_start timestamptz, p_end timestamptz, p_bounds timestamptz[],
    p_team bigint, p_channel text, p_priority text, p_category text
)
RETURNS TABLE (bucket integer, tickets bigint, finished bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT width_bucket(t.created_at, $3), count(*), count(*) FILTER (WHERE t.status IN (''solved'', ''closed''))
         FROM tickets_ticket t
         WHERE t.tenant_id = $8 AND t.created_at >= $1 AND t.created_at < $2'
        || CASE WHEN p_team IS NULL THEN '' ELSE ' AND t.team_id = $4' END
        || CASE WHEN p_channel IS NULL THEN '' ELSE ' AND t.channel = $5' END
        || CASE WHEN p_priority IS NULL THEN '' ELSE ' AND t.priority = $6' END
        || CASE WHEN p_category IS NULL THEN '' ELSE ' AND t.category = $7' END
        || ' GROUP BY 1'
    USING p_start, p_end, p_bounds, p_team, p_channel, p_priority, p_category,
          NULLIF(current_setting('app.tenant_id', true), '')::bigint;
END $$;
REVOKE ALL ON FUNCTION metrics_ticket_counts(timestamptz, timestamptz, timestamptz[], bigint, text, text, text)
    FROM PUBLIC;
"""

DROP = (
    "DROP FUNCTION IF EXISTS metrics_ticket_counts(timestamptz, timestamptz, timestamptz[], bigint, text, text, text);"
)


class Migration(migrations.Migration):
    dependencies = [("metrics", "0003_notification_templates"), ("tickets", "0010_search_ids")]

    operations = [migrations.RunSQL(TICKET_COUNTS, DROP)]
