"""The ticket list and detail render plain rows by hand (tickets.api.ticket_outputs). These tests hold
them to the bytes DRF itself would send: TicketOutput field by field over model instances, SlaOutput for
the clocks, rendered by DRF's JSONRenderer, for tickets in every state the API can show."""

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from helpdesk.models import Role, Team
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from tests.api.helpers import create_ticket
from tickets import services
from tickets.api import TicketOutput, TicketViewSet
from tickets.models import Ticket

# Text a renderer could get wrong: non-ASCII, an emoji, JavaScript's line separators (DRF escapes them),
# quotes, a backslash, a tab and a newline.
AWKWARD_TEXT = 'Café ☕ naïve \u2013 \u201cquotes\u201d "q" \\ back\tslash\nline \u2028 sep \u2029 end'


@pytest.fixture
def tickets_in_every_state(bootstrapped_api):
    """Ids of tickets covering what the output shows: with and without assignee, team, account, tags and
    clocks; escalated with triage reasons; clocks running, met, paused and breached; back-dated to a
    whole second (no microseconds); awkward text; a sentiment whose repr has an exponent."""
    api, tenant = bootstrapped_api, bootstrapped_api.tenant
    with tenant_context(tenant):
        account = services.account_create(tenant=tenant, name="Umbrella", vip=True, plan="enterprise")
        services.customer_create(tenant=tenant, actor=None, email="boss@umbrella.test", name="Boss", account=account)
        team = Team.objects.create(tenant=tenant, name="Billing", skills=["billing"], tier=2)
        agent = membership_create(tenant=tenant, username="dana", email="dana@initech.test", role=Role.AGENT, tier=1)
    calm = create_ticket(api, tags=["printer", "office"], category="how-to")
    angry = create_ticket(
        api,
        subject="Refund now",
        description="This is unacceptable, I want a refund and I will call my lawyer. Get me a manager.",
        requester={"email": "boss@umbrella.test"},
        priority="urgent",
    )
    awkward = create_ticket(
        api, subject=AWKWARD_TEXT, description=AWKWARD_TEXT, requester={"email": "zoe@x.test", "name": "Zoë \u2028"}
    )
    old = create_ticket(
        api, subject="From the old system", created_at="2024-01-02T03:04:05Z", requester={"email": "o@x.test"}
    )
    bare = create_ticket(api, subject="No clocks", priority="low")
    # An agent reply meets the first response; pending pauses the resolution clock.
    api.post(f"/api/v1/tickets/{calm['id']}/messages/", {"body": "Try the second tray."}, format="json")
    api.patch(f"/api/v1/tickets/{calm['id']}/", {"team": team.pk, "status": "pending"}, format="json")
    api.patch(f"/api/v1/tickets/{awkward['id']}/", {"assignee": agent.pk, "status": "open"}, format="json")
    with tenant_context(tenant):
        timers = Ticket._meta.get_field("sla_timers").related_model.objects
        first = timers.filter(ticket_id=old["id"], escalation_id=0).order_by("metric").first()
        timers.filter(pk=first.pk).update(status="breached", breached_at=timezone.now(), met_at=None)
        timers.filter(ticket_id=bare["id"]).delete()
        Ticket.objects.filter(pk=awkward["id"]).update(sentiment=5e-05)
        tickets = list(Ticket.objects.all())
        clocks = list(timers.filter(escalation_id=0))
    assert any(t.escalated and t.triage_reasons and t.account_id for t in tickets)
    assert any(t.team_id and t.tags for t in tickets) and any(t.assignee_id for t in tickets)
    assert {"met", "paused", "running", "breached"} <= {clock.status for clock in clocks}
    assert not any(clock.ticket_id == bare["id"] for clock in clocks)
    return [calm["id"], angry["id"], awkward["id"], old["id"], bare["id"]]


def drf_rendering(tenant, ticket_ids: list[int]) -> list[dict]:
    """DRF's own output of these tickets, in the list's order (newest first)."""
    with tenant_context(tenant):
        tickets = Ticket.objects.filter(pk__in=ticket_ids).select_related("requester").order_by("-created_at", "-id")
        return [TicketOutput(ticket).data for ticket in tickets]


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kolkata"])
def test_it_lists_tickets_byte_for_byte_as_drf_would(bootstrapped_api, tickets_in_every_state, settings, time_zone):
    settings.TIME_ZONE = time_zone  # DRF shows datetimes in the current time zone ("Z" only for UTC)
    response = bootstrapped_api.get("/api/v1/tickets/")
    body = response.json()
    expected = drf_rendering(bootstrapped_api.tenant, tickets_in_every_state)
    assert [row["id"] for row in body["results"]] == [row["id"] for row in expected]
    assert response.content == JSONRenderer().render(dict(body, results=expected))


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kolkata"])
def test_it_shows_each_ticket_byte_for_byte_as_drf_would(bootstrapped_api, tickets_in_every_state, settings, time_zone):
    settings.TIME_ZONE = time_zone
    for ticket_id in tickets_in_every_state:
        response = bootstrapped_api.get(f"/api/v1/tickets/{ticket_id}/")
        (expected,) = drf_rendering(bootstrapped_api.tenant, [ticket_id])
        assert response.content == JSONRenderer().render(expected), ticket_id


def test_it_answers_writes_with_the_same_rendering(bootstrapped_api, tickets_in_every_state):
    ticket_id = tickets_in_every_state[2]
    response = bootstrapped_api.patch(f"/api/v1/tickets/{ticket_id}/", {"priority": "high"}, format="json")
    (expected,) = drf_rendering(bootstrapped_api.tenant, [ticket_id])
    assert expected["priority"] == "high"
    assert response.content == JSONRenderer().render(expected)


def test_it_pages_with_the_same_cursor_as_over_model_instances(bootstrapped_api, tickets_in_every_state):
    first = bootstrapped_api.get("/api/v1/tickets/?page_size=2&ordering=updated_at").json()
    second = bootstrapped_api.get(first["next"]).json()
    with tenant_context(bootstrapped_api.tenant):
        by_updated = list(Ticket.objects.order_by("updated_at").values_list("id", flat=True))
    assert [row["id"] for row in first["results"] + second["results"]] == by_updated[:4]


@pytest.mark.parametrize("field", TicketViewSet.ordering_fields)
def test_it_pages_by_every_ordering_field_through_the_rows(bootstrapped_api, tickets_in_every_state, field):
    first = bootstrapped_api.get(f"/api/v1/tickets/?page_size=3&ordering=-{field}").json()
    second = bootstrapped_api.get(first["next"]).json()
    with tenant_context(bootstrapped_api.tenant):
        expected = list(Ticket.objects.order_by(f"-{field}", "-id").values_list("id", flat=True))
    assert [row["id"] for row in first["results"] + second["results"]] == expected


CREATES = [
    {"subject": "Calm", "description": "How do I add a printer?", "tags": ["office", "printer"]},
    {"subject": "Refund now", "description": "I want a refund and I will call my lawyer. Get me a manager."},
    {"subject": "Urgent outage", "description": "Production down for everyone.", "priority": "urgent"},
    {"subject": AWKWARD_TEXT, "description": AWKWARD_TEXT, "requester": {"email": "zoe@x.test", "name": "Zoë"}},
    {"subject": "Old", "description": "From the old system.", "created_at": "2024-01-02T03:04:05Z"},
    {"subject": "Offset", "description": "Back-dated with an offset.", "created_at": "2025-06-01T12:00:00.5+02:00"},
    {"subject": "No clocks", "description": "Low priority.", "priority": "low", "channel": "chat"},
]


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kolkata"])
def test_it_answers_a_create_from_memory_byte_for_byte_as_the_detail_reads_it(bootstrapped_api, settings, time_zone):
    # The create's answer is built from the instance and clocks the request wrote (no read-back): it must be
    # what a read of the committed ticket gives, for calm, escalating, back-dated and VIP tickets alike.
    settings.TIME_ZONE = time_zone
    api, tenant = bootstrapped_api, bootstrapped_api.tenant
    with tenant_context(tenant):
        account = services.account_create(tenant=tenant, name="Umbrella", vip=True, plan="enterprise")
        services.customer_create(tenant=tenant, actor=None, email="boss@umbrella.test", name="Boss", account=account)
    bodies = [*CREATES, dict(CREATES[1], requester={"email": "boss@umbrella.test"}, subject="VIP refund")]
    escalated = 0
    for body in bodies:
        created = api.post("/api/v1/tickets/", {"requester": {"email": "pat@x.test"}, **body}, format="json")
        assert created.status_code == 201, created.content
        read = api.get(f"/api/v1/tickets/{created.json()['id']}/")
        assert created.content == read.content, body["subject"]
        escalated += created.json()["escalated"]
    assert escalated >= 3
