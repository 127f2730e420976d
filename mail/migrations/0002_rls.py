"""Row-level security on the e-mail tables, and the one SECURITY DEFINER lookup the poller needs: which
tenants have an active mailbox (the beat task runs outside any tenant, then polls each inside its own)."""

from django.db import migrations

from helpdesk.rls import enable_tenant_rls

TABLES = ("mail_mailsetup", "mail_inboundaddress", "mail_mailbox", "mail_mailrecord")

MAILBOX_TENANTS = """
CREATE OR REPLACE FUNCTION mail_mailbox_tenants()
RETURNS TABLE(mailbox_id bigint, tenant_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.id, m.tenant_id FROM mail_mailbox m WHERE m.active ORDER BY m.id
$$;
REVOKE ALL ON FUNCTION mail_mailbox_tenants() FROM PUBLIC;
"""


class Migration(migrations.Migration):
    dependencies = [("mail", "0001_initial")]

    operations = [
        *(enable_tenant_rls(table) for table in TABLES),
        migrations.RunSQL(MAILBOX_TENANTS, "DROP FUNCTION IF EXISTS mail_mailbox_tenants();"),
    ]
