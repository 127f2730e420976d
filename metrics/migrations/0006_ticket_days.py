"""metrics_ticketday: the tickets created per UTC day and combination of the metrics' ticket filters (channel,
priority, category, team), with how many of them are solved or closed -- kept by triggers on tickets_ticket -- and
metrics_ticket_counts reading it instead of counting the period's tickets.

Counting a 90-day period of the benchmark read a million tickets (0.25 s in three processes, ~0.7 s of CPU:
bench/METRICS.md); the daily counts of the same period are a few tens of thousands of rows. The period's bounds are
local midnights, which are not UTC midnights: each bound is rounded to the nearest UTC midnight, the whole days in
between are summed from the daily counts, and the at most 12 hours between a bound and its midnight are counted
from the tickets themselves (the covering index ticket_tenant_created_facts), added or taken away. Exact for any
time zone, offset or DST change, with nothing stored per time zone; the series' buckets are cut the same way.

The triggers are statement-level with transition tables: a statement that inserts, updates or deletes tickets
(a use case, a bulk update, an import batch, the sweep's cross-tenant batch) appends its net change per key as
delta rows -- only the keys whose counts moved -- and never reads, locks or updates an existing row: a ticket's
INSERT never waits on a counter held by another open transaction (an upsert held the key's row until commit, so
every same-key create in a tenant queued behind the one before, and an import batch stalled intake for seconds).
A key's counts are the sums of its rows; metrics_ticket_days_compact folds the deltas into one row per key (beat).
They run as the tables' owner (a cross-tenant batch writes tickets outside any tenant), and write only the keys
of the rows the statement changed, under those rows' own tenant. The table has the tenant policy like every
tenant table; the app role never writes it (metrics.models.TicketDay).
"""

import importlib

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models

from helpdesk.rls import enable_tenant_rls

ticket_counts_before = importlib.import_module("metrics.migrations.0004_ticket_counts")

KEY = ("tenant_id", "day", "channel", "priority", "category", "team_id")
# A ticket's key and whether it counts as finished, from a row of tickets_ticket aliased r.
ROW_KEY = (
    "r.tenant_id, (r.created_at AT TIME ZONE 'UTC')::date, r.channel, r.priority, r.category, COALESCE(r.team_id, 0)"
)
ROW_FINISHED = "(r.status IN ('solved', 'closed'))::int"
_KEYS = ", ".join(KEY)
# A statement's net change per key, appended as delta rows: no existing row is read, locked or updated, so a
# ticket's INSERT never waits on another transaction's counter (bench/METRICS.md, "Lock contention").
_APPEND = f"""
INSERT INTO metrics_ticketday ({_KEYS}, tickets, finished, delta)
SELECT {_KEYS}, sum(tickets)::int, sum(finished)::int, true FROM ({{deltas}}) x({_KEYS}, tickets, finished)
{{guard}}
GROUP BY {_KEYS} HAVING sum(tickets) <> 0 OR sum(finished) <> 0
"""
_ADDED = f"SELECT {ROW_KEY}, 1, {ROW_FINISHED} FROM new_tickets r"
_REMOVED = f"SELECT {ROW_KEY}, -1, -{ROW_FINISHED} FROM old_tickets r"
# An update moves a ticket from its old key to its new one; only the rows whose key or finished-ness changed.
_MOVED = f"""
SELECT {ROW_KEY}, -1, -{ROW_FINISHED} FROM old_tickets r JOIN new_tickets n ON n.id = r.id
WHERE ({ROW_KEY}, {ROW_FINISHED}) IS DISTINCT FROM ({ROW_KEY.replace("r.", "n.")}, {ROW_FINISHED.replace("r.", "n.")})
UNION ALL
SELECT {ROW_KEY}, 1, {ROW_FINISHED} FROM new_tickets r JOIN old_tickets o ON o.id = r.id
WHERE ({ROW_KEY}, {ROW_FINISHED}) IS DISTINCT FROM ({ROW_KEY.replace("r.", "o.")}, {ROW_FINISHED.replace("r.", "o.")})
"""
# Deleted tickets of a tenant being deleted: its tenant row is gone (the cascade deletes its daily rows too), and a
# delta referring to it would fail the foreign key -- only tenants that still exist get negative deltas.
_TENANT_EXISTS = "WHERE EXISTS (SELECT 1 FROM helpdesk_tenant t WHERE t.id = x.tenant_id)"
# Django deletes a tenant's rows itself (its foreign keys are deferred, not ON DELETE CASCADE), the daily rows first
# (a fast delete), then the tickets -- whose deltas, the tenant row still there, are appended again. The tenant's
# own delete takes whatever daily rows it has left, so the deferred check at commit finds none.
_TENANT_GONE = "DELETE FROM metrics_ticketday d USING old_tenants t WHERE d.tenant_id = t.id"


def _function(name: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN {body}; RETURN NULL; END $$;
REVOKE ALL ON FUNCTION {name}() FROM PUBLIC;
"""


TRIGGERS = (
    _function("metrics_ticket_days_inserted", _APPEND.format(deltas=_ADDED, guard=""))
    + _function("metrics_ticket_days_updated", _APPEND.format(deltas=_MOVED, guard=""))
    + _function("metrics_ticket_days_deleted", _APPEND.format(deltas=_REMOVED, guard=_TENANT_EXISTS))
    + _function("metrics_ticket_days_tenants_deleted", _TENANT_GONE)
    + """
CREATE TRIGGER ticket_days_tenants_deleted AFTER DELETE ON helpdesk_tenant
    REFERENCING OLD TABLE AS old_tenants FOR EACH STATEMENT EXECUTE FUNCTION metrics_ticket_days_tenants_deleted();
CREATE TRIGGER ticket_days_inserted AFTER INSERT ON tickets_ticket
    REFERENCING NEW TABLE AS new_tickets FOR EACH STATEMENT EXECUTE FUNCTION metrics_ticket_days_inserted();
CREATE TRIGGER ticket_days_updated AFTER UPDATE ON tickets_ticket
    REFERENCING OLD TABLE AS old_tickets NEW TABLE AS new_tickets
    FOR EACH STATEMENT EXECUTE FUNCTION metrics_ticket_days_updated();
CREATE TRIGGER ticket_days_deleted AFTER DELETE ON tickets_ticket
    REFERENCING OLD TABLE AS old_tickets FOR EACH STATEMENT EXECUTE FUNCTION metrics_ticket_days_deleted();
"""
)

BACKFILL = f"""
INSERT INTO metrics_ticketday ({_KEYS}, tickets, finished, delta)
SELECT {ROW_KEY}, count(*), sum({ROW_FINISHED}), false FROM tickets_ticket r GROUP BY 1, 2, 3, 4, 5, 6
"""

# Folds up to p_limit delta rows (oldest first) and the merged rows of their keys into one merged row per key, in
# one statement: the rows it deletes are exactly the rows it sums (RETURNING), so every key's sums are conserved
# whatever commits meanwhile -- readers see the rows before or after, a concurrent compaction skips the rows this
# one locked (SKIP LOCKED: it never waits, nor makes a writer wait: writers only append). A merged row locked by
# a concurrent compaction is left out: its key keeps two merged rows until its next delta, the sums still exact.
# Keys whose sums are both 0 are dropped. Returns how many delta rows it folded (fewer than p_limit: none left).
_KEY_OF = ", ".join(f"d.{k}" for k in KEY)
COMPACT = f"""
CREATE OR REPLACE FUNCTION metrics_ticket_days_compact(p_limit integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
WITH picked AS (
    SELECT d.id FROM metrics_ticketday d WHERE d.delta ORDER BY d.id
    LIMIT LEAST(GREATEST(p_limit, 0), 10000) FOR UPDATE SKIP LOCKED
), merged AS (
    SELECT d.id FROM metrics_ticketday d
    WHERE NOT d.delta
      AND ({_KEY_OF}) IN (SELECT {_KEY_OF.replace("d.", "q.")} FROM metrics_ticketday q JOIN picked p ON p.id = q.id)
    FOR UPDATE OF d SKIP LOCKED
), gone AS (
    DELETE FROM metrics_ticketday d WHERE d.id IN (SELECT id FROM picked UNION ALL SELECT id FROM merged)
    RETURNING {_KEY_OF}, d.tickets, d.finished, d.delta
), kept AS (  -- runs though nothing reads it: PostgreSQL runs every data-modifying WITH once
    INSERT INTO metrics_ticketday ({_KEYS}, tickets, finished, delta)
    SELECT {_KEYS}, sum(tickets)::int, sum(finished)::int, false FROM gone
    GROUP BY {_KEYS} HAVING sum(tickets) <> 0 OR sum(finished) <> 0
)
SELECT count(*)::int FROM gone WHERE delta
$$;
REVOKE ALL ON FUNCTION metrics_ticket_days_compact(integer) FROM PUBLIC;
"""

# The period (p_start, p_end) cut at the bucket bounds inside it: spans [x, x2), each in bucket width_bucket(x,
# p_bounds) as before (NULL without bounds). d is a point's nearest UTC midnight; a span's tickets are its whole
# days [d, d2) from the daily counts, plus the tickets in [d2, x2) (or minus those in [x2, d2)), minus those in
# [d, x) (or plus those in [x, d)). Buckets without tickets are left out, as before.
TICKET_COUNTS = """
CREATE OR REPLACE FUNCTION metrics_ticket_counts(
    p_start timestamptz, p_end timestamptz, p_bounds timestamptz[],
    p_team bigint, p_channel text, p_priority text, p_category text
)
RETURNS TABLE (bucket integer, tickets bigint, finished bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    day_filters text := CASE WHEN p_team IS NULL THEN '' ELSE ' AND c.team_id = $4' END
        || CASE WHEN p_channel IS NULL THEN '' ELSE ' AND c.channel = $5' END
        || CASE WHEN p_priority IS NULL THEN '' ELSE ' AND c.priority = $6' END
        || CASE WHEN p_category IS NULL THEN '' ELSE ' AND c.category = $7' END;
    ticket_filters text := CASE WHEN p_team IS NULL THEN '' ELSE ' AND t.team_id = $4' END
        || CASE WHEN p_channel IS NULL THEN '' ELSE ' AND t.channel = $5' END
        || CASE WHEN p_priority IS NULL THEN '' ELSE ' AND t.priority = $6' END
        || CASE WHEN p_category IS NULL THEN '' ELSE ' AND t.category = $7' END;
BEGIN
    RETURN QUERY EXECUTE
        'WITH cut AS (
             SELECT x, date_trunc(''day'', x + interval ''12 hours'', ''UTC'') AS d
             FROM (SELECT DISTINCT x FROM unnest(ARRAY[$1, $2] || COALESCE($3, ''{}''::timestamptz[])) x
                   WHERE x >= $1 AND x <= $2) p
         ), spans AS (
             SELECT x, d, lead(x) OVER (ORDER BY x) AS x2, lead(d) OVER (ORDER BY x) AS d2,
                    width_bucket(x, $3) AS bucket
             FROM cut
         ), edges AS (
             SELECT c.x, count(t.created_at) FILTER (WHERE t.created_at < c.x)
                         - count(t.created_at) FILTER (WHERE t.created_at >= c.x) AS tickets,
                    count(t.created_at) FILTER (WHERE t.created_at < c.x AND t.status IN (''solved'', ''closed''))
                         - count(t.created_at) FILTER (WHERE t.created_at >= c.x AND t.status IN (''solved'', ''closed''))
                         AS finished
             FROM cut c LEFT JOIN tickets_ticket t ON t.tenant_id = $8
                  AND t.created_at >= LEAST(c.x, c.d) AND t.created_at < GREATEST(c.x, c.d)' || ticket_filters || '
             GROUP BY c.x
         ), days AS (
             SELECT s.x, sum(c.tickets) AS tickets, sum(c.finished) AS finished
             FROM spans s JOIN metrics_ticketday c ON c.tenant_id = $8
                  AND c.day >= (s.d AT TIME ZONE ''UTC'')::date AND c.day < (s.d2 AT TIME ZONE ''UTC'')::date'
                  || day_filters || '
             WHERE s.x2 IS NOT NULL
             GROUP BY s.x
         ), counted AS (
             SELECT s.bucket, COALESCE(y.tickets, 0) + b.tickets - a.tickets AS tickets,
                    COALESCE(y.finished, 0) + b.finished - a.finished AS finished
             FROM spans s JOIN edges a ON a.x = s.x JOIN edges b ON b.x = s.x2 LEFT JOIN days y ON y.x = s.x
         )
         SELECT bucket, tickets::bigint, finished::bigint FROM counted WHERE tickets <> 0'
    USING p_start, p_end, p_bounds, p_team, p_channel, p_priority, p_category,
          NULLIF(current_setting('app.tenant_id', true), '')::bigint;
END $$;
REVOKE ALL ON FUNCTION metrics_ticket_counts(timestamptz, timestamptz, timestamptz[], bigint, text, text, text)
    FROM PUBLIC;
"""
DROP = """
DROP TRIGGER IF EXISTS ticket_days_inserted ON tickets_ticket;
DROP TRIGGER IF EXISTS ticket_days_updated ON tickets_ticket;
DROP TRIGGER IF EXISTS ticket_days_deleted ON tickets_ticket;
DROP TRIGGER IF EXISTS ticket_days_tenants_deleted ON helpdesk_tenant;
DROP FUNCTION IF EXISTS metrics_ticket_days_tenants_deleted();
DROP FUNCTION IF EXISTS metrics_ticket_days_inserted();
DROP FUNCTION IF EXISTS metrics_ticket_days_updated();
DROP FUNCTION IF EXISTS metrics_ticket_days_deleted();
DROP FUNCTION IF EXISTS metrics_ticket_days_compact(integer);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0014_subject_tokens"),
        ("metrics", "0005_audit_review_metric"),
        ("tickets", "0014_account_manager"),
    ]

    operations = [
        migrations.CreateModel(
            name="TicketDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(help_text="the UTC day the tickets were created")),
                ("channel", models.CharField(max_length=16)),
                ("priority", models.CharField(max_length=16)),
                ("category", models.CharField(max_length=50)),
                ("team_id", models.BigIntegerField(default=0, help_text="0: no team")),
                ("tickets", models.IntegerField(default=0)),
                ("finished", models.IntegerField(default=0, help_text="of them, solved or closed now")),
                (
                    "delta",
                    models.BooleanField(
                        db_default=True, help_text="one statement's change, not yet folded into its key's merged row"
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="helpdesk.tenant",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["tenant", "day", "channel", "priority", "category", "team_id"],
                        include=("tickets", "finished"),
                        name="ticketday_key",
                    ),
                    models.Index(condition=models.Q(("delta", True)), fields=["id"], name="ticketday_deltas"),
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        enable_tenant_rls("metrics_ticketday"),
        migrations.RunSQL(TRIGGERS + BACKFILL + ";" + COMPACT, DROP),
        migrations.RunSQL(TICKET_COUNTS, ticket_counts_before.TICKET_COUNTS),
    ]
