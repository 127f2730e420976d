"""A dispute rule states the currency of its threshold (escalation.triggers: a dispute in another currency is
not compared with it). Rules stored before the `currency` condition existed meant the seeds' "$Y": they are
given "USD", the validation's default, so what is stored says what the evaluator compares. Written out here:
a migration must not import the default it would then follow."""

from django.db import migrations

FORWARD = """
UPDATE escalation_escalationrule
   SET conditions = conditions || '{"currency": "USD"}'::jsonb
 WHERE trigger = 'dispute' AND jsonb_typeof(conditions) = 'object' AND NOT conditions ? 'currency'
"""

# Back to code that knows no `currency` condition: its validation refuses the key, so every dispute rule would
# stop compiling; the rules go back to comparing any currency, as that code did.
BACKWARD = """
UPDATE escalation_escalationrule SET conditions = conditions - 'currency'
 WHERE trigger = 'dispute' AND jsonb_typeof(conditions) = 'object' AND conditions ? 'currency'
"""


class Migration(migrations.Migration):
    dependencies = [("escalation", "0014_escalation_roles")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
