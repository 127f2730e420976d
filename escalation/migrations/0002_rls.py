from django.db import migrations

from helpdesk.rls import enable_tenant_rls


class Migration(migrations.Migration):
    dependencies = [("escalation", "0001_initial")]

    operations = [
        enable_tenant_rls("escalation_escalationrule"),
        enable_tenant_rls("escalation_escalation"),
        enable_tenant_rls("escalation_rulefiring"),
    ]
