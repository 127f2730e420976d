from django.db import migrations, models

# A ticket no customer message has scored since it opened still holds its opening score as its sentiment (only a
# customer message blends it: tickets.services); the others have none kept, and their card starts at the messages.
BACKFILL = """
UPDATE tickets_ticket t SET opening_sentiment = t.sentiment
WHERE NOT EXISTS (
    SELECT 1 FROM tickets_message m
    WHERE m.tenant_id = t.tenant_id AND m.ticket_id = t.id AND m.author_type = 'customer' AND m.sentiment IS NOT NULL
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0015_queue_filter_columns"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="opening_sentiment",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
