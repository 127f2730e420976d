"""The notification templates a new tenant starts with (create_tenant / tenant_bootstrap). Plain text;
managers edit them in the admin. Channels and webhooks are not installed: where to send is the tenant's
choice."""

from __future__ import annotations

from helpdesk.models import Tenant
from helpdesk.notifications.models import NotificationTemplate

_TICKET = "Ticket #{{ ticket.number }}: {{ ticket.subject }}"
_WHO = (
    "Customer: {{ customer.name|default:customer.email }}"
    "{% if account.name %} ({{ account.name }}, {{ account.plan }}{% if account.vip %}, VIP{% endif %}){% endif %}"
)
_SUMMARY = """Problem: {{ summary.problem }}
Tried: {{ summary.tried }}
Emotional state: {{ summary.emotional_state }}
Customer needs: {{ summary.desired_outcome }}
Account: {{ summary.account_context }}"""

# To admins, once per rule and reason (escalation.services._alert_stale): configuration went stale.
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

# Calls (callnotes): the invite and its changes go to the agent and the attendees with the .ics attached, so
# their wording is fit for the customer (no internal links); what the call concluded goes to the team.
_CALL = "Call about request #{{ ticket.number }}: {{ ticket.subject }}"
CALL_TEMPLATES: list[dict] = [
    {
        "event_type": "call.scheduled",
        "subject": "[Call] {{ ticket.subject }} [#{{ ticket.number }}]",
        "body": f"{_CALL}\nWhen: {{{{ text }}}}\nThe calendar invitation is attached.",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.rescheduled",
        "subject": "[Call moved] {{ ticket.subject }} [#{{ ticket.number }}]",
        "body": f"{_CALL}\nNew time: {{{{ text }}}}\nThe updated invitation is attached.",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.cancelled",
        "subject": "[Call cancelled] {{ ticket.subject }} [#{{ ticket.number }}]",
        "body": f"{_CALL}\nThe call planned for {{{{ text }}}} is cancelled: {{{{ event.reason }}}}",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.reminder",
        "subject": "[Reminder] Call about [#{{ ticket.number }}] starts soon",
        "body": f"{_CALL}\nWhen: {{{{ text }}}}",
        "recipients": ["agent", "attendees"],
    },
    {
        "event_type": "call.completed",
        "subject": "[Call completed] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\nRoot cause: {{{{ event.root_cause }}}}\nResolution: {{{{ event.resolution }}}}\n\n"
        "{{ ticket.link }}",
        "recipients": ["agent", "assignee"],
    },
    {
        "event_type": "action_item.reminder",
        "subject": "[Action item due] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\n{{{{ text }}}}\n\n{{{{ ticket.link }}}}",
        "recipients": ["recipient"],
    },
]

# The metrics app's messages: the customer's rating link after an escalated ticket is solved, and the
# managers' weekly digest of the escalation metrics (metrics/csat.py, metrics/digest.py).
METRICS_TEMPLATES: list[dict] = [
    {
        "event_type": "csat.request",
        "subject": "How did we do? Request [#{{ ticket.number }}]: {{ ticket.subject }}",
        "body": "{{ text }}",
        "recipients": ["requester"],
    },
    {
        "event_type": "metrics.digest",
        "subject": "Escalation metrics, week of {{ event.week }}",
        "body": "{{ text }}",
        "recipients": ["role:manager"],
    },
]


# The seeds' three escalation e-mails (seed 004), the escalation.created message of their trigger family
# (escalation/communication.py picks it: the event's `variant`; fanout.Destinations.template_for reads the
# tenant's "escalation.created.<family>" row, else its "escalation.created"). Filled from the escalation: the
# resolution attempts, the five-field summary, the account and its manager, the documentation on record.
_RESPOND = 'Respond by: {{ sla.due_at|default:"(no target)" }}'
_ATTEMPTS = """{% for attempt in attempts %}- {{ attempt.at }}, tier {{ attempt.tier }}, {{ attempt.outcome }}\
{% if attempt.note %}: {{ attempt.note }}{% endif %}
{% empty %}- No resolution attempt recorded.
{% endfor %}"""
_WHY = "{{ trigger }}{% if event.reason %}: {{ event.reason }}{% endif %}"
FAMILY_TEMPLATES: list[dict] = [
    {
        "event_type": "escalation.created.technical",
        "subject": "Urgent support needed - escalating [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"""I am escalating the following ticket due to technical complexity beyond what was resolved so far.

Ticket details:
- Ticket number: #{{{{ ticket.number }}}} {{{{ ticket.subject }}}}
- Customer name: {{{{ customer.name|default:"(not given)" }}}}
- Contact e-mail: {{{{ customer.email }}}}
- Initially reported: {{{{ reported_at }}}}{{% if account.name %}}
- Account: {{{{ account.name }}}} ({{{{ account.plan }}}}{{% if account.vip %}}, VIP{{% endif %}}){{% endif %}}

Current issue: {{{{ summary.problem }}}}

Steps already taken:
{_ATTEMPTS}In short: {{{{ summary.tried }}}}

Specific areas requiring specialised attention:
- Why it escalated: {_WHY}
- What the customer needs: {{{{ summary.desired_outcome }}}}
- How the customer feels: {{{{ summary.emotional_state }}}}

{_RESPOND}
Please review and provide specialised technical intervention as soon as possible: {{{{ ticket.link }}}}""",
        "recipients": ["agent", "on_call", "notify"],
    },
    {
        "event_type": "escalation.created.high_value",
        "subject": "Immediate attention required - strategic account {{ account.name|default:customer.name }} "
        "[#{{ ticket.number }}]",
        "body": f"""This ticket involves a high-value customer requiring immediate senior intervention.

Customer escalation profile:
- Company: {{{{ account.name|default:"(no account)" }}}}{{% if account.plan %}} ({{{{ account.plan }}}}\
{{% if account.vip %}}, VIP{{% endif %}}){{% endif %}}
- Annual contract value: {{{{ account.annual_contract_value|default:"(not recorded)" }}}}
- Customer since: {{{{ account.customer_since|default:"(not recorded)" }}}}
- Account manager: {{{{ account.manager_name|default:"(none assigned)" }}}}\
{{% if account.manager_email %}} <{{{{ account.manager_email }}}}>{{% endif %}}
- Ticket number: #{{{{ ticket.number }}}} {{{{ ticket.subject }}}}

Escalation rationale:
- {_WHY}
- Customer's state: {{{{ summary.emotional_state }}}}
- Account context: {{{{ summary.account_context }}}}

Detailed customer concerns: {{{{ summary.problem }}}}
Already tried: {{{{ summary.tried }}}}

Recommended immediate actions:
- Deliver what the customer needs: {{{{ summary.desired_outcome }}}}
- Engage the customer directly{{% if account.manager_name %}}, with {{{{ account.manager_name }}}}{{% endif %}}\
{{% if event.to_call %}}, on a call{{% endif %}}
- {_RESPOND}

Urgent review and direct customer engagement are required to prevent potential revenue loss: {{{{ ticket.link }}}}""",
        "recipients": ["agent", "on_call", "notify"],
    },
    {
        "event_type": "escalation.created.compliance",
        "subject": "Immediate legal review required - [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"""We are escalating a ticket with potential legal and regulatory implications. Confidential.

Escalation specifics:
- Ticket number: #{{{{ ticket.number }}}} {{{{ ticket.subject }}}}
- Potential regulatory concerns: {{{{ ticket.category|default:"(no category)" }}}}
- Date of initial complaint: {{{{ reported_at }}}}
- Customer: {{{{ customer.name|default:customer.email }}}}{{% if account.name %}} ({{{{ account.name }}}}){{% endif %}}

Compliance trigger points:
- {_WHY}

Detailed issue context: {{{{ summary.problem }}}}
Already tried: {{{{ summary.tried }}}}
The customer expects: {{{{ summary.desired_outcome }}}}

Supporting documentation:
{{% for line in documents %}}- {{{{ line }}}}
{{% empty %}}- Nothing on record yet.
{{% endfor %}}- Resolution attempts on record: {{{{ attempts|length }}}}

{_RESPOND}
Immediate review and guidance are critically necessary to mitigate potential legal risks: {{{{ ticket.link }}}}""",
        "recipients": ["agent", "on_call", "notify"],
    },
]
# The ladder's notice to the escalation's overseer (escalation/roles.py): a response target was missed and the
# escalation climbed, or could climb no further.
LADDER_TEMPLATE = {
    "event_type": "escalation.climbed",
    "subject": "[Escalation ladder] [#{{ ticket.number }}] {{ ticket.subject }}",
    "body": f"{_TICKET}\n{_WHO}\n{{{{ text }}}}\n\n{{{{ ticket.link }}}}",
    "recipients": ["overseer"],
}


DEFAULT_TEMPLATES: list[dict] = [
    {
        "event_type": "escalation.created",
        "subject": "[Escalation] {% if account.vip %}VIP {% endif %}[#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"""{_TICKET}
{_WHO}
Escalated ({{{{ event.kind }}}}) by: {{{{ trigger }}}}{{% if event.reason %}} — {{{{ event.reason }}}}{{% endif %}}
Respond by: {{{{ sla.due_at|default:"(no target)" }}}}

{_SUMMARY}

Open the ticket: {{{{ ticket.link }}}}""",
        "recipients": ["agent", "on_call", "notify"],
    },
    {
        "event_type": "escalation.acknowledged",
        "subject": "[Acknowledged] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\nThe escalation was acknowledged.\n\n{{{{ ticket.link }}}}",
        "recipients": ["assignee"],
    },
    {
        "event_type": "escalation.resolved",
        "subject": "[Resolved] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\nResolution: {{{{ event.resolution }}}}\nRoot cause: {{{{ event.root_cause }}}}\n\n"
        "{{ ticket.link }}",
        "recipients": ["assignee"],
    },
    {
        "event_type": "escalation.returned",
        "subject": "[Returned] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\nThe escalation came back for clarification: {{{{ event.reason }}}}\n\n"
        "{{ ticket.link }}",
        "recipients": ["assignee"],
    },
    {
        "event_type": "escalation.feedback",
        "subject": "[Outcome] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\n{{{{ text }}}}\n\n{{{{ ticket.link }}}}",
        "recipients": ["recipient"],
    },
    {
        "event_type": "owner.reminder",
        "subject": "[Update due] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\n{_WHO}\n{{{{ text }}}}\nDue: {{{{ sla.due_at }}}}\n\n{{{{ ticket.link }}}}",
        "recipients": ["recipient"],
    },
    {
        "event_type": "customer.update",
        "subject": "Update on your request [#{{ ticket.number }}]: {{ ticket.subject }}",
        "body": "{{ text }}",
        "recipients": ["requester"],
    },
    {
        "event_type": "sla.warning",
        "subject": "[SLA {{ sla.percent }}%] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\n{_WHO}\n{{{{ sla.metric }}}} is {{{{ sla.percent }}}}% used; due {{{{ sla.due_at }}}}.\n\n"
        "{{ ticket.link }}",
        "recipients": ["assignee"],
    },
    {
        "event_type": "sla.breached",
        "subject": "[SLA breached] [#{{ ticket.number }}] {{ ticket.subject }}",
        "body": f"{_TICKET}\n{_WHO}\n{{{{ sla.metric }}}} was due {{{{ sla.due_at }}}} and is breached.\n\n"
        "{{ ticket.link }}",
        "recipients": ["assignee", "role:manager"],
    },
    *FAMILY_TEMPLATES,
    LADDER_TEMPLATE,
    RULE_FALLBACK_TEMPLATE,
    *CALL_TEMPLATES,
    *METRICS_TEMPLATES,
]


# Events of the notification system itself, always sent with the built-in text (a tenant has no row for
# them): a template of the tenant's that crossed a render bound must not be the one telling its admins.
TEMPLATE_OVER_LIMIT = "notification.template_over_limit"
SYSTEM_TEMPLATES: list[dict] = [
    {
        "event_type": TEMPLATE_OVER_LIMIT,
        "subject": "[Notifications] The {{ event.template_event }} template was replaced by the built-in text",
        "body": """Rendering the notification template for {{ event.template_event }} stopped at a bound: {{ text }}

Its messages go out with the built-in text until the template is fixed in the admin (Notification
templates, {{ event.template_event }}). This alert is sent once per version of the template.""",
        "recipients": ["role:admin"],
    },
]

BUILT_IN = {spec["event_type"]: spec for spec in DEFAULT_TEMPLATES + SYSTEM_TEMPLATES}
SYSTEM_EVENTS = frozenset(spec["event_type"] for spec in SYSTEM_TEMPLATES)


def built_in(event_type: str) -> NotificationTemplate | None:
    """The built-in template of an event type, as an unsaved row (None for a type without one)."""
    spec = BUILT_IN.get(event_type)
    return NotificationTemplate(**spec) if spec else None


def install(*, tenant: Tenant) -> None:
    NotificationTemplate.objects.bulk_create(
        [NotificationTemplate(tenant=tenant, **spec) for spec in DEFAULT_TEMPLATES], ignore_conflicts=True
    )
