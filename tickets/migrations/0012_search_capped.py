"""`tickets_search_ids(query, cap)`: the newest `cap` matches of a search, not all of them.

A word in 40 % of a 100,000-ticket tenant returned 40,000 ids, read again by each of a queue page's view counts
and its page (1.8 s at p95, bench/WORKSPACE.md). Now the caller asks for the newest matches up to a cap (the
search selector asks for one more than it shows, to say "1,000+ matches") and reads them once. The query is
planned with the search's own words (dynamic SQL: a function's saved plan would not know them), so the planner
picks per search: the GIN index for a rare word, the newest-first index with the match as a filter for a
common one (it meets its cap after a few thousand rows). Same confinement as before: the tenant of the caller's
transaction only, no setting no rows; ids only, the caller reads the tickets under RLS."""

from django.db import migrations

SEARCH_IDS = """
DROP FUNCTION IF EXISTS tickets_search_ids(text);
CREATE OR REPLACE FUNCTION tickets_search_ids(p_query text, p_cap integer)
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT t.id FROM tickets_ticket t
          WHERE t.tenant_id = $1
            AND t.search_vector @@ websearch_to_tsquery(''english''::regconfig, $2)
          ORDER BY t.tenant_id DESC, t.created_at DESC, t.id DESC
          LIMIT $3'
    USING NULLIF(current_setting('app.tenant_id', true), '')::bigint, p_query, GREATEST(p_cap, 0);
END
$$;
REVOKE ALL ON FUNCTION tickets_search_ids(text, integer) FROM PUBLIC;
"""

PREVIOUS = """
DROP FUNCTION IF EXISTS tickets_search_ids(text, integer);
CREATE OR REPLACE FUNCTION tickets_search_ids(p_query text)
RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id FROM tickets_ticket t
    WHERE t.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
      AND t.search_vector @@ websearch_to_tsquery('english'::regconfig, p_query)
$$;
REVOKE ALL ON FUNCTION tickets_search_ids(text) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("tickets", "0011_metrics_indexes")]

    operations = [migrations.RunSQL(SEARCH_IDS, PREVIOUS)]
