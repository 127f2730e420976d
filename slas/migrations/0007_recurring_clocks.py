"""The history of a recurring clock (the customer-update clock of an escalation): its missed and met
periods (slas/schedule.py). A constant default: PostgreSQL adds the columns without rewriting the table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("slas", "0006_tenant_batch_once")]

    operations = [
        migrations.AddField(
            model_name="slatimer",
            name="misses",
            field=models.PositiveIntegerField(db_default=0, default=0, help_text="periods that passed with no update"),
        ),
        migrations.AddField(
            model_name="slatimer",
            name="met_periods",
            field=models.PositiveIntegerField(db_default=0, default=0, help_text="periods ended by an update in time"),
        ),
    ]
