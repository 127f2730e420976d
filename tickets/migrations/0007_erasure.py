"""A customer's erasure (DELETE /customers/{id}/): the customer row becomes a tombstone (`erased_at`), and
the audit trail admits exactly one kind of change — a redaction of an event's values.

The append-only trigger of 0002 refused every UPDATE. It now lets one through when it is a redaction:
`redacted_at` goes from NULL to a time (so it happens once per row, and visibly), and nothing else moves —
the event's id, tenant, ticket, kind, actor and time stay, and `before`/`after` keep their keys; only the
values (the customer's address, their subject) may be masked. DELETE stays refused for everyone.
"""

from django.db import migrations, models

REDACTABLE = """
CREATE OR REPLACE FUNCTION tickets_ticketevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL
       AND NEW.id = OLD.id AND NEW.tenant_id = OLD.tenant_id AND NEW.ticket_id = OLD.ticket_id
       AND NEW.kind = OLD.kind AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_label = OLD.actor_label AND NEW.created_at = OLD.created_at
       AND ARRAY(SELECT jsonb_object_keys(NEW.before) ORDER BY 1) = ARRAY(SELECT jsonb_object_keys(OLD.before) ORDER BY 1)
       AND ARRAY(SELECT jsonb_object_keys(NEW.after) ORDER BY 1) = ARRAY(SELECT jsonb_object_keys(OLD.after) ORDER BY 1)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ticket events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION tickets_ticketevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ticket events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("tickets", "0006_external_id")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="erased_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="ticketevent",
            name="redacted_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(REDACTABLE, APPEND_ONLY),
    ]
