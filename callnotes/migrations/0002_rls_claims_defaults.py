"""Row-level security on the calls app's tables; the three SECURITY DEFINER functions it needs (the two
reminder claims of the sweep and the calendar-feed lookup, which runs before any tenant is known); and, for
the tenants that exist already, the default call-note template and the call notification templates (new
tenants get them from tenant_bootstrap). The texts are written out here: a migration keeps what it shipped."""

from django.db import migrations

from helpdesk.rls import enable_tenant_rls

TABLES = (
    "callnotes_callnotetemplate",
    "callnotes_call",
    "callnotes_callnote",
    "callnotes_actionitem",
    "callnotes_attachment",
    "callnotes_calendarfeed",
    "callnotes_knowledgeentry",
)

CLAIM_CALLS = """
CREATE OR REPLACE FUNCTION callnotes_claim_call_reminders(p_now timestamptz, p_limit integer)
RETURNS TABLE(call_id bigint, tenant_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT c.id, c.tenant_id FROM callnotes_call c
    WHERE c.reminder_due_at IS NOT NULL AND c.reminder_due_at <= p_now
    ORDER BY c.reminder_due_at
    LIMIT LEAST(GREATEST(p_limit, 0), 10000)
    FOR UPDATE SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION callnotes_claim_call_reminders(timestamptz, integer) FROM PUBLIC;
"""

CLAIM_ITEMS = """
CREATE OR REPLACE FUNCTION callnotes_claim_action_reminders(p_now timestamptz, p_limit integer)
RETURNS TABLE(item_id bigint, tenant_id bigint)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT a.id, a.tenant_id FROM callnotes_actionitem a
    WHERE a.reminder_due_at IS NOT NULL AND a.reminder_due_at <= p_now
    ORDER BY a.reminder_due_at
    LIMIT LEAST(GREATEST(p_limit, 0), 10000)
    FOR UPDATE SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION callnotes_claim_action_reminders(timestamptz, integer) FROM PUBLIC;
"""

FEED_OWNER = """
CREATE OR REPLACE FUNCTION callnotes_feed_owner(p_key_hash text)
RETURNS TABLE(feed_id bigint, tenant_id bigint, member_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT f.id, f.tenant_id, f.member_id FROM callnotes_calendarfeed f
    WHERE f.key_hash = p_key_hash AND f.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION callnotes_feed_owner(text) FROM PUBLIC;
"""

DEFAULT_TEMPLATE_NAME = "Escalation call (default)"
CALL_TEMPLATES = [
    {
        "event_type": "call.scheduled",
        "subject": "[Call] {{ ticket.subject }} (#{{ ticket.number }})",
        "body": "Call about request #{{ ticket.number }}: {{ ticket.subject }}\n"
        "When: {{ text }}\n"
        "The calendar invitation is attached.",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.rescheduled",
        "subject": "[Call moved] {{ ticket.subject }} (#{{ ticket.number }})",
        "body": "Call about request #{{ ticket.number }}: {{ ticket.subject }}\n"
        "New time: {{ text }}\n"
        "The updated invitation is attached.",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.cancelled",
        "subject": "[Call cancelled] {{ ticket.subject }} (#{{ ticket.number }})",
        "body": "Call about request #{{ ticket.number }}: {{ ticket.subject }}\n"
        "The call planned for {{ text }} is cancelled: {{ event.reason }}",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.reminder",
        "subject": "[Reminder] Call about #{{ ticket.number }} starts soon",
        "body": "Call about request #{{ ticket.number }}: {{ ticket.subject }}\nWhen: {{ text }}",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.completed",
        "subject": "[Call completed] #{{ ticket.number }} {{ ticket.subject }}",
        "body": "Ticket #{{ ticket.number }}: {{ ticket.subject }}\n"
        "Root cause: {{ event.root_cause }}\n"
        "Resolution: {{ event.resolution }}\n"
        "\n"
        "{{ ticket.link }}",
        "recipients": ["agent", "assignee"],
    },
    {
        "event_type": "action_item.reminder",
        "subject": "[Action item due] #{{ ticket.number }} {{ ticket.subject }}",
        "body": "Ticket #{{ ticket.number }}: {{ ticket.subject }}\n{{ text }}\n\n{{ ticket.link }}",
        "recipients": ["recipient"],
    },
]
DEFAULT_SECTIONS = {
    "pre_call": [
        {
            "key": "contact",
            "label": "Customer contact",
            "type": "text",
            "required": "scheduling",
            "visibility": "internal",
        },
        {
            "key": "phone_or_link",
            "label": "Phone or meeting link",
            "type": "text",
            "required": "scheduling",
            "visibility": "internal",
        },
        {
            "key": "preferred_times",
            "label": "Preferred times",
            "type": "text",
            "required": "scheduling",
            "visibility": "internal",
        },
        {
            "key": "account_context",
            "label": "Account context",
            "type": "text",
            "required": "",
            "visibility": "internal",
        },
        {"key": "ticket_history", "label": "Ticket history", "type": "text", "required": "", "visibility": "internal"},
        {
            "key": "reproduction_steps",
            "label": "Reproduction steps",
            "type": "list",
            "required": "",
            "visibility": "internal",
        },
        {"key": "environment", "label": "Environment", "type": "text", "required": "", "visibility": "internal"},
        {
            "key": "error_logs",
            "label": "Error logs and screenshots",
            "type": "artifact",
            "required": "",
            "visibility": "internal",
        },
        {
            "key": "escalation_reason",
            "label": "Escalation reason",
            "type": "text",
            "required": "",
            "visibility": "internal",
        },
        {
            "key": "desired_outcome",
            "label": "Desired outcome",
            "type": "text",
            "required": "",
            "visibility": "internal",
        },
    ],
    "live": [
        {
            "key": "header",
            "label": "Date, time, caller, purpose",
            "type": "text",
            "required": "",
            "visibility": "internal",
        },
        {
            "key": "issue_confirmation",
            "label": "Issue confirmation",
            "type": "text",
            "required": "",
            "visibility": "internal",
        },
        {
            "key": "diagnosis_steps",
            "label": "Diagnosis steps",
            "type": "list",
            "required": "",
            "visibility": "internal",
        },
        {
            "key": "discussed_resolutions",
            "label": "Discussed resolutions",
            "type": "list",
            "required": "",
            "visibility": "internal",
        },
        {
            "key": "customer_concerns",
            "label": "Customer concerns",
            "type": "list",
            "required": "",
            "visibility": "internal",
        },
        {
            "key": "proposed_solutions",
            "label": "Proposed solutions",
            "type": "list",
            "required": "",
            "visibility": "internal",
        },
        {"key": "follow_ups", "label": "Follow-ups", "type": "list", "required": "", "visibility": "internal"},
    ],
    "post_call": [
        {
            "key": "root_cause",
            "label": "Root cause (one sentence)",
            "type": "text",
            "required": "completion",
            "visibility": "internal",
        },
        {
            "key": "resolution",
            "label": "Resolution",
            "type": "text",
            "required": "completion",
            "visibility": "internal",
        },
        {
            "key": "action_items",
            "label": "Action items (owner, due date)",
            "type": "list",
            "required": "",
            "visibility": "internal",
        },
        {"key": "tags", "label": "Tags", "type": "list", "required": "", "visibility": "internal"},
        {
            "key": "customer_summary",
            "label": "Customer-facing summary",
            "type": "text",
            "required": "completion",
            "visibility": "customer",
        },
    ],
}


def add_defaults(apps, schema_editor):
    Tenant = apps.get_model("helpdesk", "Tenant")
    NotificationTemplate = apps.get_model("helpdesk", "NotificationTemplate")
    CallNoteTemplate = apps.get_model("callnotes", "CallNoteTemplate")
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        # Row-level security may apply to the migrating role too: each tenant's rows are written in its tenant.
        schema_editor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        CallNoteTemplate.objects.get_or_create(
            tenant_id=tenant_id, name=DEFAULT_TEMPLATE_NAME, defaults={"sections": DEFAULT_SECTIONS, "is_default": True}
        )
        for spec in CALL_TEMPLATES:
            NotificationTemplate.objects.get_or_create(
                tenant_id=tenant_id, event_type=spec["event_type"], defaults=spec
            )


class Migration(migrations.Migration):
    dependencies = [
        ("callnotes", "0001_initial"),
        ("helpdesk", "0009_team_active"),
    ]

    operations = [
        *(enable_tenant_rls(table) for table in TABLES),
        migrations.RunSQL(CLAIM_CALLS, "DROP FUNCTION IF EXISTS callnotes_claim_call_reminders(timestamptz, integer);"),
        migrations.RunSQL(
            CLAIM_ITEMS, "DROP FUNCTION IF EXISTS callnotes_claim_action_reminders(timestamptz, integer);"
        ),
        migrations.RunSQL(FEED_OWNER, "DROP FUNCTION IF EXISTS callnotes_feed_owner(text);"),
        migrations.RunPython(add_defaults, migrations.RunPython.noop),
    ]
