"""Notification destinations (webhook subscriptions, templates, channels) are tenant configuration too:
the same trigger as migration 0006 bumps the tenant's version on every change, so fan-out can serve
them from helpdesk/config_cache.py."""

from django.db import migrations

from helpdesk.config_cache import version_trigger

NOTIFICATION_TABLES = ("helpdesk_webhooksubscription", "helpdesk_notificationtemplate", "helpdesk_notificationchannel")


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0006_configversion")]

    operations = [version_trigger(table) for table in NOTIFICATION_TABLES]
