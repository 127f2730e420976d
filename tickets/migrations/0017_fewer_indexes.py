"""Two indexes fewer on tickets_ticket (24 before): the tenant's own (every composite index leads with tenant_id),
and the category's two (btree and pattern ops, across tenants) made one composite, (tenant_id, category), which the
queues' category filter and the collaborators' similar tickets use within a tenant. None of the sweep's ticket
updates can be HOT, so each wrote an entry in every index (bench/SWEEP.md, "Issue 17, fifth round")."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0014_subject_tokens"),
        ("tickets", "0016_opening_sentiment"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ticket",
            name="category",
            field=models.SlugField(blank=True, db_index=False),
        ),
        migrations.AlterField(
            model_name="ticket",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="helpdesk.tenant",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["tenant", "category"], name="ticket_tenant_category"),
        ),
    ]
