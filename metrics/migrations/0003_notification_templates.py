"""The metrics app's notification templates for the tenants that exist already (new tenants get them from
tenant_bootstrap). The texts are written out here: a migration keeps what it shipped."""

from django.db import migrations

TEMPLATES = [
    {
        "event_type": "csat.request",
        "subject": "How did we do? Request #{{ ticket.number }}: {{ ticket.subject }}",
        "body": "{{ text }}",
        "recipients": ["requester"],
    },
    {
        "event_type": "metrics.digest",
        "subject": "Escalation metrics, week of {{ event.week }}",
        "body": "{{ text }}",
        "recipients": ["role:manager"],
    },
]


def add_templates(apps, schema_editor):
    Tenant = apps.get_model("helpdesk", "Tenant")
    NotificationTemplate = apps.get_model("helpdesk", "NotificationTemplate")
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        # Row-level security may apply to the migrating role too: each tenant's rows are written in its tenant.
        schema_editor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        for spec in TEMPLATES:
            NotificationTemplate.objects.get_or_create(
                tenant_id=tenant_id, event_type=spec["event_type"], defaults=spec
            )


class Migration(migrations.Migration):
    dependencies = [("metrics", "0002_rls"), ("helpdesk", "0009_team_active")]

    operations = [migrations.RunPython(add_templates, migrations.RunPython.noop)]
