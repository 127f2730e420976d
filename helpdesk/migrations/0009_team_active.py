from django.db import migrations, models

# The admin alert of a rule whose target could not be served (escalation.services._alert_stale), for the
# tenants that exist already; new tenants get it from helpdesk.notifications.defaults. Written out here: a
# migration keeps the text it shipped with.
RULE_FALLBACK_TEMPLATE = {
    "event_type": "rule.fallback",
    "subject": "[Matrix] Rule “{{ event.rule_name }}” could not reach its target",
    "body": (
        "The escalation rule “{{ event.rule_name }}” ({{ event.rule_slug }}) fired, but its target could not be "
        "served: {{ event.reason }}.\n"
        "Its escalations go to the managers' queue until the rule or the team is fixed (this alert is sent once).\n"
        "First case: {{ ticket.link }}"
    ),
    "recipients": ["role:admin"],
}


def add_template(apps, schema_editor):
    Tenant = apps.get_model("helpdesk", "Tenant")
    NotificationTemplate = apps.get_model("helpdesk", "NotificationTemplate")
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        # Row-level security may apply to the migrating role too: each tenant's row is written in its tenant.
        schema_editor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        NotificationTemplate.objects.get_or_create(
            tenant_id=tenant_id, event_type=RULE_FALLBACK_TEMPLATE["event_type"], defaults=RULE_FALLBACK_TEMPLATE
        )


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0008_auditevent"),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="active",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(add_template, migrations.RunPython.noop),
    ]
