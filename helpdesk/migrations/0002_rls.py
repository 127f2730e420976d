"""Row-level security on the tenancy tables, and the two narrow lookups that must see across tenants.

The functions are SECURITY DEFINER: they run as the migration's user (the table owner, to whom the
policies do not apply) and return only ids. They are the request path's one bypass: finding which
tenant an API token or a logged-in user belongs to, before any tenant is known.
"""

from django.db import migrations

from helpdesk.rls import enable_tenant_rls

TOKEN_FN = """
CREATE OR REPLACE FUNCTION helpdesk_token_principal(p_key_hash text)
RETURNS TABLE(token_id bigint, tenant_id bigint, role varchar, prefix varchar, label varchar,
              last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT t.id, t.tenant_id, t.role, t.prefix, t.label, t.last_used_at FROM helpdesk_apitoken t
    WHERE t.key_hash = p_key_hash AND t.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION helpdesk_token_principal(text) FROM PUBLIC;
"""

USER_FN = """
CREATE OR REPLACE FUNCTION helpdesk_user_tenants(p_user_id integer)
RETURNS TABLE(tenant_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.tenant_id FROM helpdesk_membership m
    WHERE m.user_id = p_user_id AND m.active ORDER BY m.tenant_id
$$;
REVOKE ALL ON FUNCTION helpdesk_user_tenants(integer) FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]

    operations = [
        enable_tenant_rls("helpdesk_membership"),
        enable_tenant_rls("helpdesk_team"),
        enable_tenant_rls("helpdesk_teammember"),
        enable_tenant_rls("helpdesk_apitoken"),
        migrations.RunSQL(TOKEN_FN, "DROP FUNCTION IF EXISTS helpdesk_token_principal(text);"),
        migrations.RunSQL(USER_FN, "DROP FUNCTION IF EXISTS helpdesk_user_tenants(integer);"),
    ]
