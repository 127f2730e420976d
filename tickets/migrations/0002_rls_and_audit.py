"""Row-level security on every tickets table; the audit trail made append-only in the database.

A row trigger (not only privileges) makes TicketEvent append-only: it holds for the owner too, so no
code path, admin action or migration rewrites history by accident. TRUNCATE is left to the owner
(the app role is never granted it), since test isolation and tenant off-boarding need it.
"""

from django.db import migrations

from helpdesk.rls import enable_tenant_rls

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION tickets_ticketevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ticket events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ticketevent_append_only
    BEFORE UPDATE OR DELETE ON tickets_ticketevent
    FOR EACH ROW EXECUTE FUNCTION tickets_ticketevent_append_only();
"""

DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS ticketevent_append_only ON tickets_ticketevent;
DROP FUNCTION IF EXISTS tickets_ticketevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [
        *[
            enable_tenant_rls(f"tickets_{name}")
            for name in ("account", "customer", "ticket", "message", "resolutionattempt", "ticketevent")
        ],
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
