"""Every ticket-bound notification subject carries the ticket token [#<id>] (API.md: outbound mail), so a
customer's reply to any of them threads by subject even when the mail client drops In-Reply-To. The tenants'
stored templates are updated where their subject is still the shipped one; a subject a manager edited is left
alone. Written out here: a migration must not import the defaults it would then follow."""

from django.db import migrations

SUBJECTS = [
    (
        "call.scheduled",
        "[Call] {{ ticket.subject }} (#{{ ticket.number }})",
        "[Call] {{ ticket.subject }} [#{{ ticket.number }}]",
    ),
    (
        "call.rescheduled",
        "[Call moved] {{ ticket.subject }} (#{{ ticket.number }})",
        "[Call moved] {{ ticket.subject }} [#{{ ticket.number }}]",
    ),
    (
        "call.cancelled",
        "[Call cancelled] {{ ticket.subject }} (#{{ ticket.number }})",
        "[Call cancelled] {{ ticket.subject }} [#{{ ticket.number }}]",
    ),
    (
        "call.reminder",
        "[Reminder] Call about #{{ ticket.number }} starts soon",
        "[Reminder] Call about [#{{ ticket.number }}] starts soon",
    ),
    (
        "call.completed",
        "[Call completed] #{{ ticket.number }} {{ ticket.subject }}",
        "[Call completed] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "action_item.reminder",
        "[Action item due] #{{ ticket.number }} {{ ticket.subject }}",
        "[Action item due] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "csat.request",
        "How did we do? Request #{{ ticket.number }}: {{ ticket.subject }}",
        "How did we do? Request [#{{ ticket.number }}]: {{ ticket.subject }}",
    ),
    (
        "escalation.created",
        "[Escalation] {% if account.vip %}VIP {% endif %}#{{ ticket.number }} {{ ticket.subject }}",
        "[Escalation] {% if account.vip %}VIP {% endif %}[#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "escalation.acknowledged",
        "[Acknowledged] #{{ ticket.number }} {{ ticket.subject }}",
        "[Acknowledged] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "escalation.resolved",
        "[Resolved] #{{ ticket.number }} {{ ticket.subject }}",
        "[Resolved] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "escalation.returned",
        "[Returned] #{{ ticket.number }} {{ ticket.subject }}",
        "[Returned] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "escalation.feedback",
        "[Outcome] #{{ ticket.number }} {{ ticket.subject }}",
        "[Outcome] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "owner.reminder",
        "[Update due] #{{ ticket.number }} {{ ticket.subject }}",
        "[Update due] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "customer.update",
        "Update on your request #{{ ticket.number }}: {{ ticket.subject }}",
        "Update on your request [#{{ ticket.number }}]: {{ ticket.subject }}",
    ),
    (
        "sla.warning",
        "[SLA {{ sla.percent }}%] #{{ ticket.number }} {{ ticket.subject }}",
        "[SLA {{ sla.percent }}%] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
    (
        "sla.breached",
        "[SLA breached] #{{ ticket.number }} {{ ticket.subject }}",
        "[SLA breached] [#{{ ticket.number }}] {{ ticket.subject }}",
    ),
]


def add_tokens(apps, schema_editor):
    template = apps.get_model("helpdesk", "NotificationTemplate")
    for event_type, old, new in SUBJECTS:
        template.objects.filter(event_type=event_type, subject=old).update(subject=new)


def remove_tokens(apps, schema_editor):
    template = apps.get_model("helpdesk", "NotificationTemplate")
    for event_type, old, new in SUBJECTS:
        template.objects.filter(event_type=event_type, subject=new).update(subject=old)


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0013_escalation_templates")]

    operations = [migrations.RunPython(add_tokens, remove_tokens)]
