"""Two indexes fewer on slas_slatimer: the tenant's own and slatimer_tenant_ticket, both prefixes of
slatimer_unique_clock (tenant_id, ticket_id, escalation_id, metric). A storm writes 30,000 clocks and updates
10,000, each an entry in every index (bench/SWEEP.md, "Issue 17, fifth round")."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0014_subject_tokens"),
        ("slas", "0010_metrics_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="slatimer",
            name="slatimer_tenant_ticket",
        ),
        migrations.AlterField(
            model_name="slatimer",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="helpdesk.tenant",
            ),
        ),
    ]
