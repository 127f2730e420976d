"""Notification destinations (webhook subscriptions, templates, channels) are tenant configuration too:
the same trigger as migration 0006 bumps the tenant's version on every change, so fan-out can serve
them from helpdesk/config_cache.py."""

from django.db import migrations

NOTIFICATION_TABLES = ("helpdesk_webhooksubscription", "helpdesk_notificationtemplate", "helpdesk_notificationchannel")


def _trigger(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'CREATE TRIGGER helpdesk_configversion AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
        "FOR EACH ROW EXECUTE FUNCTION helpdesk_configversion_bump();",
        f'DROP TRIGGER IF EXISTS helpdesk_configversion ON "{table}";',
    )


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0006_configversion")]

    operations = [_trigger(table) for table in NOTIFICATION_TABLES]
