"""The tenant configuration version behind helpdesk/config_cache.py.

Row-level triggers on the configuration tables (escalation rules, SLA policies, business calendars)
set the tenant's version to the next value of a sequence on every INSERT, UPDATE and DELETE. The
trigger function is SECURITY DEFINER: the app role reads the version table (under row-level security,
like any tenant table) but never writes it itself.
"""

from django.db import migrations

from helpdesk.config_cache import version_trigger
from helpdesk.rls import enable_tenant_rls

CONFIG_TABLES = ("escalation_escalationrule", "slas_slapolicy", "slas_businesscalendar")

CREATE = """
CREATE SEQUENCE helpdesk_configversion_seq;
CREATE TABLE helpdesk_configversion (
    tenant_id bigint PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO helpdesk_configversion (tenant_id, version)
    SELECT id, nextval('helpdesk_configversion_seq') FROM helpdesk_tenant;
CREATE FUNCTION helpdesk_configversion_bump() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO helpdesk_configversion (tenant_id, version)
        VALUES (COALESCE(NEW.tenant_id, OLD.tenant_id), nextval('helpdesk_configversion_seq'))
        ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version;
    IF TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        INSERT INTO helpdesk_configversion (tenant_id, version)
            VALUES (OLD.tenant_id, nextval('helpdesk_configversion_seq'))
            ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION helpdesk_configversion_bump() FROM PUBLIC;
"""

DROP = """
DROP TABLE IF EXISTS helpdesk_configversion;
DROP FUNCTION IF EXISTS helpdesk_configversion_bump() CASCADE;
DROP SEQUENCE IF EXISTS helpdesk_configversion_seq;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0005_notifications"),
        ("escalation", "0001_initial"),
        ("slas", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        enable_tenant_rls("helpdesk_configversion"),
        *[version_trigger(table) for table in CONFIG_TABLES],
    ]
