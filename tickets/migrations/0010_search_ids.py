"""`tickets_search_ids`: the full-text match of a search, run where the search index can be used.

Under row-level security PostgreSQL may use an index only for operators it knows to be LEAKPROOF, and the
text-search match `@@` is not: for the app role every `?q=` read the whole tickets table (100,000 tickets:
3.4 s for a word that matches nothing, bench/WORKSPACE.md). This function runs as the tables' owner, so the
GIN index on `search_vector` serves the match, and it confines itself to the tenant of the caller's
transaction — the same `app.tenant_id` setting the policies read: no setting, no rows. It returns ticket ids
only; the caller reads the tickets themselves under RLS."""

from django.db import migrations

SEARCH_IDS = """
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
    dependencies = [("tickets", "0009_queue_indexes")]

    operations = [
        migrations.RunSQL(SEARCH_IDS, "DROP FUNCTION IF EXISTS tickets_search_ids(text);"),
    ]
