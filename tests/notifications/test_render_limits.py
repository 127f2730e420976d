"""A notification template renders within bounds (loop iterations, output, time) checked while it renders;
one that cannot is refused when saved, and one already stored falls back to the built-in text at send,
with one alert to the tenant's admins per template version."""

from __future__ import annotations

import itertools

import pytest
from django.test import Client
from django.utils import timezone

from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role
from helpdesk.notifications import defaults, dispatcher, rendering, validation
from helpdesk.notifications.bounds import (
    ITERATIONS,
    MAX_ITERATIONS,
    MAX_OUTPUT,
    MAX_SECONDS,
    OUTPUT,
    SOURCE,
    TIME,
    RenderLimitExceeded,
)
from helpdesk.notifications.models import DeliveryStatus, NotificationTemplate
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.notifications.conftest import email_channel
from tests.notifications.helpers import deliveries, open_ticket
from tickets.models import AuthorType


def nested_loops(depth: int, over: str, body: str = "x") -> str:
    """The probe's shape: `depth` nested loops over one value of the context."""
    names = [f"v{level}" for level in range(depth)]
    opening = "".join(f"{{% for {name} in {over} %}}" for name in names)
    return opening + body + "{% endfor %}" * depth


PROBE = nested_loops(3, "event.notify")  # 838 characters in the report; the shape is what matters


# --- while rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [3, 4])
def test_a_render_stops_at_the_first_iteration_past_the_bound(depth):
    context = {"event": {"notify": [f"n{i}" for i in range(30)]}}  # 30**3 = 27,000 iterations unbounded
    with pytest.raises(RenderLimitExceeded) as caught:
        rendering.render_text(nested_loops(depth, "event.notify"), context)
    assert caught.value.bound == ITERATIONS
    assert caught.value.iterations == MAX_ITERATIONS + 1
    assert "10,000 loop iterations" in str(caught.value)


def test_the_iterations_of_every_loop_count_against_one_bound():
    loops = "{% for a in items %}a{% endfor %}" * 3
    with pytest.raises(RenderLimitExceeded) as caught:
        rendering.render_text(loops, {"items": list(range(4_000))})
    assert (caught.value.bound, caught.value.iterations) == (ITERATIONS, MAX_ITERATIONS + 1)
    assert caught.value.output == MAX_ITERATIONS  # one "a" per iteration, written before the stop


def test_a_loop_within_the_bound_renders_in_full():
    assert rendering.render_text(nested_loops(2, "items", "{{ v1 }}"), {"items": "abc"}) == "abc" * 3


def test_a_render_stops_once_its_output_passes_the_cap():
    line = "y" * 1_000
    with pytest.raises(RenderLimitExceeded) as caught:
        rendering.render_text("{% for i in items %}{{ line }}{% endfor %}", {"items": range(500), "line": line})
    assert caught.value.bound == OUTPUT
    assert caught.value.output == MAX_OUTPUT + 1_000  # the leaf that crossed it, and not one more
    assert caught.value.iterations == MAX_OUTPUT // 1_000 + 1


@pytest.mark.parametrize(
    "source",
    [
        '{{ text|ljust:"999999999" }}',
        '{{ text|stringformat:"999999999s" }}',
        "{{ text|make_list|join:text }}",
        "{% with a=text|add:text %}{% with b=a|add:a %}{% with c=b|add:b %}{% with d=c|add:c %}{{ d }}"
        "{% endwith %}{% endwith %}{% endwith %}{% endwith %}",
    ],
)
def test_a_filter_that_would_build_a_huge_value_is_stopped_before_it_is_written(source):
    with pytest.raises(RenderLimitExceeded) as caught:
        rendering.render_text(source, {"text": "z" * 6_000})
    assert caught.value.bound == OUTPUT
    assert caught.value.output == 0  # stopped inside the filter, before any text was produced


def test_a_render_stops_when_its_time_budget_is_spent():
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.01  # noqa: E731 - a clock that moves 10 ms each time it is read
    with pytest.raises(RenderLimitExceeded) as caught:
        rendering.render_text(nested_loops(2, "items"), {"items": list(range(90))}, clock=clock)
    assert caught.value.bound == TIME
    # The clock is read at the start, then at each iteration and at each piece of text it writes: the read
    # that finds 1.01 s gone (the 101st) is the 51st iteration's, long before the iteration bound.
    assert int(MAX_SECONDS / 0.01) == 100 and caught.value.iterations == 51 < MAX_ITERATIONS


def test_lorem_and_deep_nesting_are_refused():
    with pytest.raises(rendering.TemplateInvalid, match="lorem"):
        rendering.compile_checked("{% lorem 999999 w %}")
    with pytest.raises(rendering.TemplateInvalid, match="more than 30 deep"):
        rendering.compile_checked("{% if 1 %}" * 40 + "{% endif %}" * 40)
    with pytest.raises(RenderLimitExceeded) as caught:
        rendering.compile_checked("x" * 10_001)
    assert caught.value.bound == SOURCE


def test_the_context_clips_what_is_longer_than_the_worst_case_sample():
    payload = {"text": "t" * 50_000, "notify": ["n" * 500] * 500, "ticket_context": {"subject": "s" * 5_000}}
    context = rendering.event_context(event_type="x", payload=payload, tenant_name="T")
    assert len(context["text"]) == rendering.MAX_TEXT
    assert len(context["ticket"]["subject"]) == rendering.MAX_SHORT
    assert len(context["event"]["notify"]) == rendering.MAX_ITEMS
    assert {len(item) for item in context["event"]["notify"]} == {rendering.MAX_ITEM}


def test_the_worst_case_sample_holds_the_largest_values_the_api_lets_into_a_payload():
    from escalation.api import RuleInput, SummaryInput
    from tickets.api import TicketCreateInput

    assert TicketCreateInput().fields["subject"].max_length <= rendering.MAX_SHORT
    assert max(field.max_length for field in SummaryInput().fields.values()) <= rendering.MAX_TEXT
    notify = RuleInput().fields["notify"]
    assert notify.max_length <= rendering.MAX_ITEMS and notify.child.max_length <= rendering.MAX_ITEM
    sample = rendering.worst_case_context()
    assert len(sample["text"]) == rendering.MAX_TEXT and len(sample["ticket"]["subject"]) == rendering.MAX_SHORT
    assert len(sample["event"]["notify"]) == rendering.MAX_ITEMS


# --- when saved -------------------------------------------------------------------------------------


def test_saving_the_probe_template_is_refused_naming_the_bound():
    with pytest.raises(validation.NotificationInputError) as caught:
        validation.template_check(subject="ok", body=PROBE)
    [message] = caught.value.fields["body"]
    assert "largest context an event can carry" in message and "10,000 loop iterations" in message


def test_a_template_that_fails_on_the_sample_is_refused_when_saved():
    with pytest.raises(validation.NotificationInputError) as caught:
        validation.template_check(subject="{% for a, b in event.notify %}{% endfor %}", body="ok")
    assert "fails to render" in caught.value.fields["subject"][0]


@pytest.mark.parametrize("spec", defaults.DEFAULT_TEMPLATES + defaults.SYSTEM_TEMPLATES, ids=lambda s: s["event_type"])
def test_every_built_in_template_passes_the_check_it_falls_back_to(spec):
    validation.template_check(subject=spec["subject"], body=spec["body"])


def test_a_manager_cannot_save_the_probe_template_in_the_admin(tenant_a, bob):
    client = Client()
    assert client.login(username="bob", password="pw-bob-123!")
    response = client.post(
        "/admin/helpdesk/notificationtemplate/add/",
        {"event_type": "escalation.created", "subject": "Escalated", "body": PROBE, "recipients": "[]", "active": "on"},
    )
    assert response.status_code == 200
    assert "10,000 loop iterations" in response.content.decode()
    with tenant_context(tenant_a):
        assert not NotificationTemplate.objects.exists()


# --- at send ----------------------------------------------------------------------------------------


@pytest.fixture
def acme(db):
    tenant = workflows.tenant_bootstrap(slug="acme", name="Acme Corp")
    membership_create(tenant=tenant, username="bob", email="bob@acme.test", role=Role.MANAGER, tier=2)
    membership_create(tenant=tenant, username="ada", email="ada@acme.test", role=Role.ADMIN)
    return tenant


def _store_unchecked(tenant, event_type: str, body: str) -> NotificationTemplate:
    """A template written before the save-time check existed (the probe's): straight to its row."""
    with tenant_context(tenant):
        NotificationTemplate.objects.filter(event_type=event_type).update(body=body, updated_at=timezone.now())
        return NotificationTemplate.objects.get(event_type=event_type)


def _escalate(tenant, subject: str):
    """A manager request: an escalation of no trigger family, so the generic escalation.created template
    renders it (a legal threat would get the compliance family's message)."""
    ticket = open_ticket(tenant, subject=subject)
    with tenant_context(tenant):
        ticket.refresh_from_db()
        request = "Please let me speak to a manager about this."
        workflows.message_receive(ticket=ticket, actor=None, body=request, author_type=AuthorType.CUSTOMER)
    return ticket


def test_a_template_over_the_bound_sends_the_built_in_text_and_alerts_the_admins_once(acme, mailoutbox):
    email_channel(acme)
    # Four nested loops over the ticket's subject: 15**4 = 50,625 iterations for "Invoice doubled".
    template = _store_unchecked(acme, "escalation.created", nested_loops(4, "ticket.subject"))
    tickets = [_escalate(acme, subject) for subject in ("Invoice doubled", "Invoice tripled", "Invoice lost!!")]
    dispatcher.dispatch()
    dispatcher.dispatch()  # the alert, written while the first run rendered, goes out now

    escalation_mails = [m for m in mailoutbox if m.subject.startswith("[Escalation]")]
    # The manager-request rule notifies the managers, and an admin outranks a manager: two people, three tickets.
    assert sorted((m.subject, *m.to) for m in escalation_mails) == sorted(
        (f"[Escalation] [#{t.pk}] {t.subject}", person)
        for t in tickets
        for person in ("ada@acme.test", "bob@acme.test")
    )
    assert all("Escalated (hierarchical) by: manager-request" in m.body for m in escalation_mails)  # built-in body
    assert {d.status for d in deliveries(acme, event_type="escalation.created")} == {DeliveryStatus.DELIVERED}

    with tenant_context(acme):
        [alert] = OutboxEvent.objects.filter(type=defaults.TEMPLATE_OVER_LIMIT)
    assert alert.payload["template"] == template.pk and alert.payload["bound"] == ITERATIONS
    assert alert.payload["iterations"] == MAX_ITERATIONS + 1
    [alert_mail] = [m for m in mailoutbox if m.subject.startswith("[Notifications]")]
    assert alert_mail.to == ["ada@acme.test"]
    assert alert_mail.subject == "[Notifications] The escalation.created template was replaced by the built-in text"
    assert "10,000 loop iterations" in alert_mail.body


def test_an_edited_template_that_breaks_again_alerts_again(acme):
    email_channel(acme)
    _store_unchecked(acme, "escalation.created", nested_loops(4, "ticket.subject"))
    _escalate(acme, "Invoice doubled")
    dispatcher.dispatch()
    _store_unchecked(acme, "escalation.created", nested_loops(4, "ticket.subject", "y"))  # a new version
    _escalate(acme, "Invoice tripled")
    dispatcher.dispatch()
    with tenant_context(acme):
        assert OutboxEvent.objects.filter(type=defaults.TEMPLATE_OVER_LIMIT).count() == 2
