"""The escalation.created messages of the seeds' three trigger families (technical complexity, high-value
customer, compliance and legal) and the ladder's notice to an escalation's overseer, for the tenants that exist
already (new tenants get them from tenant_bootstrap). The texts are written out here: a migration keeps what it
shipped."""

from django.db import migrations

TEMPLATES = [
    {
        "body": "I am escalating the following ticket due to technical complexity beyond what was resolved so far.\n"
        "\n"
        "Ticket details:\n"
        "- Ticket number: #{{ ticket.number }} {{ ticket.subject }}\n"
        '- Customer name: {{ customer.name|default:"(not given)" }}\n'
        "- Contact e-mail: {{ customer.email }}\n"
        "- Initially reported: {{ reported_at }}{% if account.name %}\n"
        "- Account: {{ account.name }} ({{ account.plan }}{% if account.vip %}, VIP{% endif %}){% endif %}\n"
        "\n"
        "Current issue: {{ summary.problem }}\n"
        "\n"
        "Steps already taken:\n"
        "{% for attempt in attempts %}- {{ attempt.at }}, tier {{ attempt.tier }}, {{ attempt.outcome }}{% if "
        "attempt.note %}: {{ attempt.note }}{% endif %}\n"
        "{% empty %}- No resolution attempt recorded.\n"
        "{% endfor %}In short: {{ summary.tried }}\n"
        "\n"
        "Specific areas requiring specialised attention:\n"
        "- Why it escalated: {{ trigger }}{% if event.reason %}: {{ event.reason }}{% endif %}\n"
        "- What the customer needs: {{ summary.desired_outcome }}\n"
        "- How the customer feels: {{ summary.emotional_state }}\n"
        "\n"
        'Respond by: {{ sla.due_at|default:"(no target)" }}\n'
        "Please review and provide specialised technical intervention as soon as possible: {{ ticket.link }}",
        "event_type": "escalation.created.technical",
        "recipients": ["agent", "on_call", "notify"],
        "subject": "Urgent support needed - escalating [#{{ ticket.number }}] {{ ticket.subject }}",
    },
    {
        "body": "This ticket involves a high-value customer requiring immediate senior intervention.\n"
        "\n"
        "Customer escalation profile:\n"
        '- Company: {{ account.name|default:"(no account)" }}{% if account.plan %} ({{ account.plan }}{% if '
        "account.vip %}, VIP{% endif %}){% endif %}\n"
        '- Annual contract value: {{ account.annual_contract_value|default:"(not recorded)" }}\n'
        '- Customer since: {{ account.customer_since|default:"(not recorded)" }}\n'
        '- Account manager: {{ account.manager_name|default:"(none assigned)" }}{% if account.manager_email %} '
        "<{{ account.manager_email }}>{% endif %}\n"
        "- Ticket number: #{{ ticket.number }} {{ ticket.subject }}\n"
        "\n"
        "Escalation rationale:\n"
        "- {{ trigger }}{% if event.reason %}: {{ event.reason }}{% endif %}\n"
        "- Customer's state: {{ summary.emotional_state }}\n"
        "- Account context: {{ summary.account_context }}\n"
        "\n"
        "Detailed customer concerns: {{ summary.problem }}\n"
        "Already tried: {{ summary.tried }}\n"
        "\n"
        "Recommended immediate actions:\n"
        "- Deliver what the customer needs: {{ summary.desired_outcome }}\n"
        "- Engage the customer directly{% if account.manager_name %}, with {{ account.manager_name }}{% endif "
        "%}{% if event.to_call %}, on a call{% endif %}\n"
        '- Respond by: {{ sla.due_at|default:"(no target)" }}\n'
        "\n"
        "Urgent review and direct customer engagement are required to prevent potential revenue loss: {{ "
        "ticket.link }}",
        "event_type": "escalation.created.high_value",
        "recipients": ["agent", "on_call", "notify"],
        "subject": "Immediate attention required - strategic account {{ account.name|default:customer.name }} [#{{ "
        "ticket.number }}]",
    },
    {
        "body": "We are escalating a ticket with potential legal and regulatory implications. Confidential.\n"
        "\n"
        "Escalation specifics:\n"
        "- Ticket number: #{{ ticket.number }} {{ ticket.subject }}\n"
        '- Potential regulatory concerns: {{ ticket.category|default:"(no category)" }}\n'
        "- Date of initial complaint: {{ reported_at }}\n"
        "- Customer: {{ customer.name|default:customer.email }}{% if account.name %} ({{ account.name }}){% "
        "endif %}\n"
        "\n"
        "Compliance trigger points:\n"
        "- {{ trigger }}{% if event.reason %}: {{ event.reason }}{% endif %}\n"
        "\n"
        "Detailed issue context: {{ summary.problem }}\n"
        "Already tried: {{ summary.tried }}\n"
        "The customer expects: {{ summary.desired_outcome }}\n"
        "\n"
        "Supporting documentation:\n"
        "{% for line in documents %}- {{ line }}\n"
        "{% empty %}- Nothing on record yet.\n"
        "{% endfor %}- Resolution attempts on record: {{ attempts|length }}\n"
        "\n"
        'Respond by: {{ sla.due_at|default:"(no target)" }}\n'
        "Immediate review and guidance are critically necessary to mitigate potential legal risks: {{ "
        "ticket.link }}",
        "event_type": "escalation.created.compliance",
        "recipients": ["agent", "on_call", "notify"],
        "subject": "Immediate legal review required - [#{{ ticket.number }}] {{ ticket.subject }}",
    },
    {
        "body": "Ticket #{{ ticket.number }}: {{ ticket.subject }}\n"
        "Customer: {{ customer.name|default:customer.email }}{% if account.name %} ({{ account.name }}, {{ "
        "account.plan }}{% if account.vip %}, VIP{% endif %}){% endif %}\n"
        "{{ text }}\n"
        "\n"
        "{{ ticket.link }}",
        "event_type": "escalation.climbed",
        "recipients": ["overseer"],
        "subject": "[Escalation ladder] [#{{ ticket.number }}] {{ ticket.subject }}",
    },
]


def add_templates(apps, schema_editor):
    Tenant = apps.get_model("helpdesk", "Tenant")
    NotificationTemplate = apps.get_model("helpdesk", "NotificationTemplate")
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        # Row-level security may apply to the migrating role too: each tenant's rows are written in its tenant.
        schema_editor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        for spec in TEMPLATES:
            NotificationTemplate.objects.get_or_create(
                tenant_id=tenant_id, event_type=spec["event_type"], defaults=spec
            )


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0012_executive_role")]

    operations = [migrations.RunPython(add_templates, migrations.RunPython.noop)]
